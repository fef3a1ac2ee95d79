/**
 * The worker's side: runs what a front end sends on this process's engine (its device queue orders the work:
 * clicks first, batch work yielding between windows) and reports progress, places in the queue, results and the
 * load. The transport (IPC, Redis) only carries the messages.
 */
import type { LocalEngine } from '../inference/engine.ts';
import type { Logger } from '../logger.ts';
import { toWire, type FromWorker, type ToWorker } from './protocol.ts';

/** How often places in the queue and the load are sent while work is outstanding. */
const REPORT_MS = 200;

export function serveWorker(engine: LocalEngine, send: (m: FromWorker) => void, log: Logger): { handle(m: ToWorker): void; close(): void } {
  const runs = new Map<string, { abort: AbortController; position: () => number | undefined; sent?: number }>();
  let lastLoad = '';
  const report = () => {
    const load = engine.service.queue.load;
    const key = JSON.stringify(load);
    if (key !== lastLoad) send({ t: 'load', load });
    lastLoad = key;
    for (const [id, r] of runs) {
      const position = r.position();
      if (position !== r.sent && position !== undefined) send({ t: 'progress', id, p: { stage: 'queued', done: 0, total: 1 }, position });
      r.sent = position;
    }
  };
  const timer = setInterval(report, REPORT_MS);
  timer.unref();

  const handle = (m: ToWorker): void => {
    if (m.t === 'cancel') return void runs.get(m.id)?.abort.abort();
    if (m.t === 'run') {
      const abort = new AbortController();
      let run;
      try {
        run = engine.admit(m.req);
      } catch (e) {
        return send({ t: 'failed', id: m.id, error: toWire(e) });
      }
      runs.set(m.id, { abort, position: run.position });
      run
        .run({
          signal: abort.signal,
          onProgress: (p) => {
            send({ t: 'progress', id: m.id, p, position: p.stage === 'queued' ? run.position() : undefined });
            // the load changes when a run starts or yields; the timer would tell it up to REPORT_MS later
            if (p.stage !== 'inference') report();
          },
        })
        .then(
          (out) => send({ t: 'done', id: m.id, out }),
          (e) => {
            if (toWire(e).status >= 500) log.error('job failed', { jobId: m.id, error: (e as Error)?.stack ?? String(e) });
            send({ t: 'failed', id: m.id, error: toWire(e) });
          },
        )
        .finally(() => {
          runs.delete(m.id);
          report();
        });
      return report();
    }
    const call = m.t === 'prepare' ? engine.prepare(m.client, m.image) : m.t === 'getPrepare' ? engine.getPrepare(m.image, m.client) : engine.cancelPrepare(m.image, m.client);
    call.then(
      (view) => send({ t: 'reply', id: m.id, view }),
      (e) => send({ t: 'failed', id: m.id, error: toWire(e) }),
    );
  };
  return {
    handle,
    close: () => {
      clearInterval(timer);
      for (const r of runs.values()) r.abort.abort();
    },
  };
}
