import type { ServerResponse } from 'node:http';

/** An open `text/event-stream` response (server-sent events). */
export interface EventStream {
  /** Writes one event: `event: <name>` and its data as one line of JSON. Nothing once closed. */
  send(event: string, data: unknown): void;
  /** Ends the response (idempotent). */
  close(): void;
  readonly closed: boolean;
}

/**
 * Turns `res` into a server-sent events stream: headers sent at once (no proxy buffering, no caching, no
 * transform), a comment line every `heartbeatMs` so that idle connections and proxies keep it open, `onClose`
 * once when it ends (closed here or by the client).
 */
export function openEventStream(res: ServerResponse, opts: { heartbeatMs: number; onClose?: () => void }): EventStream {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store, no-transform',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  let closed = false;
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), opts.heartbeatMs);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    opts.onClose?.();
  };
  res.on('close', finish);
  return {
    get closed() {
      return closed;
    },
    send(event, data) {
      if (closed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (closed) return;
      finish();
      res.end();
    },
  };
}

/**
 * Requests a client may hold open at once (event streams, result requests that wait for their job), per client
 * and in all; `take` throws what `refuse` builds when either is used up, else returns the release (idempotent).
 */
export class HeldRequests {
  private readonly perClient = new Map<string, number>();
  private total = 0;
  constructor(
    readonly maxPerClient: number,
    readonly maxTotal: number,
  ) {}

  get size(): number {
    return this.total;
  }

  take(client: string, refuse: (why: 'client' | 'total', held: number) => Error): () => void {
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.maxPerClient) throw refuse('client', mine);
    if (this.total >= this.maxTotal) throw refuse('total', this.total);
    this.perClient.set(client, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.perClient.get(client) ?? 1) - 1;
      if (n > 0) this.perClient.set(client, n);
      else this.perClient.delete(client);
    };
  }
}
