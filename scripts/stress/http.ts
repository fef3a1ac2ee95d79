/**
 * A bounded HTTP client for the stress run (node:http, loopback): any method, headers and raw body (declared
 * length or chunked), a hard time limit, the answer's status, headers and body (capped), or why there was none.
 * Plus the classification every part shares, and latency percentiles.
 */
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ms: number;
}
export interface NoAnswer {
  /** 'timeout': no complete answer within the limit; otherwise the socket error's code. */
  error: string;
  ms: number;
  /** Status line received before the failure, if any. */
  status?: number;
}

export interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Send without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
  timeoutMs: number;
  agent?: Agent | false;
}

const MAX_ANSWER_BYTES = 64 * 1024 ** 2;

export function send(base: URL, r: Req): Promise<Answer | NoAnswer> {
  const t0 = performance.now();
  const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  const headers: Record<string, string> = { ...r.headers };
  const hasLength = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
  if (body && !r.chunked && !hasLength) headers['content-length'] = String(body.length);
  return new Promise((resolve) => {
    let done = false;
    let status: number | undefined;
    const finish = (a: Answer | NoAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ error: 'timeout', ms: performance.now() - t0, status }), r.timeoutMs);
    const req = request({ host: base.hostname, port: base.port, method: r.method ?? 'POST', path: r.path, headers, agent: r.agent ?? false, setHost: true }, (res) => {
      status = res.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(c);
      });
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message, ms: performance.now() - t0, status }));
    });
    // a server that answers early (413) and closes may reset our upload: the answer, if it came, still counts
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (status === undefined) setTimeout(() => finish({ error: e.code ?? e.message, ms: performance.now() - t0 }), 50);
    });
    if (body) {
      if (r.chunked) {
        for (let p = 0; p < body.length; p += 16384) req.write(body.subarray(p, p + 16384));
      } else req.write(body);
    }
    req.end();
  });
}

export const isAnswer = (a: Answer | NoAnswer): a is Answer => 'status' in a && !('error' in a);

/** The `detail` of a JSON error body, or null when the body is not `{"detail": string}`. */
export function detailOf(a: Answer): string | null {
  const type = String(a.headers['content-type'] ?? '');
  if (!type.includes('json')) return null;
  try {
    const v = JSON.parse(a.body.toString('utf8')) as unknown;
    return v && typeof v === 'object' && typeof (v as { detail?: unknown }).detail === 'string' ? (v as { detail: string }).detail : null;
  } catch {
    return null;
  }
}

/** `crash` is the readers' (an exception that is not a ModelsError); `reset` a connection closed without an answer. */
export type Outcome = 'accepted' | 'rejected' | 'bad4xx' | 'shed' | '5xx' | 'expected5xx' | 'hang' | 'reset' | 'crash';

/**
 * What an answer means: 2xx accepted; 4xx with a JSON {detail} rejected correctly (without one: bad4xx); 503
 * with Retry-After shed (the queue or job store is full, by design); other 5xx unexpected unless `allow5xx`
 * lists the status (an injected fault: an image host that fails or never answers); no answer in time a hang;
 * a connection closed without an answer a reset (accepted as a rejection when `mayClose`: oversized uploads).
 */
export function classify(a: Answer | NoAnswer, opts: { allow5xx?: readonly number[]; mayClose?: boolean } = {}): Outcome {
  if (!isAnswer(a)) {
    if (a.error === 'timeout') return 'hang';
    return opts.mayClose ? 'rejected' : 'reset';
  }
  if (a.status >= 200 && a.status < 300) return 'accepted';
  if (a.status >= 400 && a.status < 500) return detailOf(a) !== null ? 'rejected' : 'bad4xx';
  if (a.status === 503 && a.headers['retry-after']) return 'shed';
  if (opts.allow5xx?.includes(a.status)) return 'expected5xx';
  if (a.status >= 500) return '5xx';
  return 'bad4xx';
}

export function percentiles(ms: number[]): { p50: number; p95: number; p99: number } | null {
  if (!ms.length) return null;
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}
