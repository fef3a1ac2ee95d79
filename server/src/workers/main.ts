/**
 * A worker process: the pipeline on one device behind its device queue, serving a front end over its IPC channel
 * (forked by the pool) or, with REDIS_URL, jobs from Redis (`npm run worker`, on any machine).
 */
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../config.ts';
import { createDicomweb } from '../dicomweb/index.ts';
import { ImageSource } from '../images/imageSource.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createLocalEngine } from '../server.ts';
import { serveWorker } from './host.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const config = loadConfigOrExit();
// unique across machines unless the operator names it (the pool names its workers w0, w1…)
const name = process.env.VISTA3D_WORKER_NAME ?? `${hostname()}-${process.pid}`;
const base = createLogger(config.logLevel);
const log = { debug: base.debug, info: (m: string, f?: object) => base.info(m, { worker: name, ...f }), warn: (m: string, f?: object) => base.warn(m, { worker: name, ...f }), error: (m: string, f?: object) => base.error(m, { worker: name, ...f }) };
const dicomweb = createDicomweb(config, log);
// series given as this front end's own /dicomweb URLs are read from the same store or PACS, not over HTTP
if (process.env.VISTA3D_FRONTEND_URL) dicomweb.series.listeningOn(process.env.VISTA3D_FRONTEND_URL);
const engine = await createLocalEngine(config, new ImageSource(config, dicomweb.series), log, createMetrics());

if (config.redisUrl) {
  const { runRedisWorker } = await import('./redis.ts');
  await runRedisWorker(config, engine, name, log);
} else if (process.send) {
  const send = (m: FromWorker) => process.send?.(m);
  const host = serveWorker(engine, send, log);
  process.on('message', (m: ToWorker) => host.handle(m));
  // the front end went away: stop
  process.on('disconnect', () => process.exit(0));
  send({ t: 'ready', manifest: engine.model.manifest, device: engine.model.device });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      host.close();
      engine.close().then(() => process.exit(0), () => process.exit(1));
    });
  }
} else {
  log.error('a worker needs a front end: run it from the server (NIM_HTTP_MAX_WORKERS) or give it REDIS_URL');
  process.exit(2);
}
