import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { Vista3dPipeline, type ModelManifest, type Volume } from '@vista3d/models';
import { createBackend } from '@vista3d/models/backend';
import { loadBundleFromDir } from '@vista3d/models/node';
import { createApp, type AppDeps, type AppState } from './app.ts';
import { Authenticator } from './auth/authenticator.ts';
import { REPO_ROOT, type Config } from './config.ts';
import { createDicomweb } from './dicomweb/index.ts';
import { ImageSource } from './images/imageSource.ts';
import { LocalEngine, type Engine } from './inference/engine.ts';
import { JobRegistry, type JobStore } from './inference/jobs.ts';
import { DEFAULT_PREPARE_LIMITS, PrepareRegistry } from './inference/prepare.ts';
import { InferenceService } from './inference/service.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { mountViewer } from './viewer/mount.ts';

export interface RunningServer {
  server: Server;
  url: string;
  state: AppState;
  /** Resolves once the model is loaded and warmed up (rejects if it cannot load). */
  ready: Promise<void>;
  /** Graceful shutdown: stop accepting, let running and queued jobs finish (up to the grace period), dispose. */
  close(): Promise<void>;
  /** Where inference runs, once ready (tests and benches look at its workers). */
  engine(): Engine | undefined;
}

const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** A synthetic image of exactly one window in model space, for the warm-up inference /health/ready waits for. */
function warmUpVolume(m: ModelManifest): Volume<Int16Array> {
  const dims = [...m.inference.roiSize] as [number, number, number];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).map((_, i) => (((i % dims[0]) - dims[0] / 2) ** 2 < dims[0] ? 60 : -1000));
  return { data, dims, spacing: [...m.preprocessing.spacing] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] };
}

/**
 * The pipeline on this process's device (DEVICE, THREADS), warmed up with one window, behind the device queue:
 * what a single server runs, and what each worker process runs.
 */
export async function createLocalEngine(config: Config, images: ImageSource, log: Logger, metrics: ReturnType<typeof createMetrics>): Promise<LocalEngine> {
  const backend = createBackend({ device: config.device, threads: config.threads || undefined, onWarning: (m) => log.warn(m), onInfo: (m) => log.info(m) });
  const pipeline = await Vista3dPipeline.create(await loadBundleFromDir(config.modelDir), backend);
  const first = pipeline.manifest.everything.find((id) => pipeline.labels.isSupported(id));
  await pipeline.segment(warmUpVolume(pipeline.manifest), { classes: first ? [first] : [] });
  const service = new InferenceService(
    pipeline,
    {
      queueDepth: config.queueDepth,
      queuePolicy: config.queuePolicy,
      maxConcurrentLoads: config.maxConcurrentLoads,
      work: config.work,
      featureCacheBytes: config.featureCacheBytes,
      preparedCacheBytes: config.preparedCacheBytes,
      maxPointWindows: config.maxPointWindows,
    },
    metrics,
  );
  return new LocalEngine(service, images, metrics, new PrepareRegistry({ ...DEFAULT_PREPARE_LIMITS, ...config.prepares }));
}

export async function startServer(config: Config, options: { log?: Logger; extraRoutes?: AppDeps['extraRoutes'] } = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const state: AppState = { ready: false, shuttingDown: false };
  let engine: Engine | undefined;
  const dicomweb = createDicomweb(config, log, metrics);
  const extraRoutes: AppDeps['extraRoutes'] = (a) => {
    dicomweb.mount(a); // before the others' catch-alls (the viewer's SPA fallback)
    options.extraRoutes?.(a);
    mountViewer(a, config, log); // last: its SPA fallback answers what no router took
  };
  // with REDIS_URL, jobs live in Redis (any front end answers any job); else in this process
  const redis = config.redisUrl ? (await import('./workers/redis.ts')).redisFrontEnd(config, log) : null;
  const jobs: JobStore = redis?.jobs ?? new JobRegistry({ ...config.jobs, timeoutMs: config.requestTimeoutMs }, (jobId, e) => log.error('job failed', { jobId, error: (e as Error)?.stack ?? String(e) }));
  const images = new ImageSource(config, dicomweb.series);
  metrics.loadOf(() => engine?.load() ?? {});
  const auth = new Authenticator(config, log, undefined, redis?.sessions);
  const app = createApp({ config, log, metrics, engine: () => engine, state, version: VERSION, extraRoutes, jobs, auth });
  const server = await new Promise<Server>((resolve, reject) => {
    // Express 5 hands listen errors (port taken) to this callback instead of throwing
    const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(new Error(`cannot listen on ${config.host}:${config.port}: ${err.message}`)) : resolve(s)));
  });
  // requestTimeout bounds how long a request (headers and body) takes to arrive, not the answer: slow bodies are cut
  server.requestTimeout = config.bodyTimeoutMs;
  server.headersTimeout = Math.min(60_000, config.bodyTimeoutMs);
  server.maxConnections = config.maxConnections;
  // Requests Node's parser refuses (a body longer than declared, headers too large, a body that never finished):
  // the same JSON {detail} as every other error, and the connection closed.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') return void socket.destroy();
    const [status, text] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const detail = status === 408 ? `the request did not arrive within ${config.bodyTimeoutMs} ms (BODY_TIMEOUT_MS)` : status === 431 ? 'the request headers are too large' : `the request is not valid HTTP/1.1: ${err.code ?? err.message}`;
    const body = JSON.stringify({ detail });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  // requests being answered (the graceful shutdown waits for them); event streams and long polls end at close
  let answering = 0;
  server.on('request', (req, res) => {
    if (/\/events(\?|$)|[?&]wait=/.test(req.url ?? '')) return;
    answering++;
    res.once('close', () => answering--);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  dicomweb.series.listeningOn(url);
  log.info('listening', { url });

  const ready = (async () => {
    const t0 = performance.now();
    engine = redis
      ? await redis.engine(url)
      : config.workers > 1
        ? await (await import('./workers/pool.ts')).PoolEngine.start(config, log, metrics, config.workers, url)
        : await createLocalEngine(config, images, log, metrics);
    state.ready = true;
    log.info('ready', { model: `${engine.model.manifest.name} ${engine.model.manifest.version}`, device: engine.model.device, ms: Math.round(performance.now() - t0) });
  })();
  ready.catch((e) => log.error('model failed to load', { error: (e as Error).message, modelDir: config.modelDir }));

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      state.shuttingDown = true;
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // running and queued jobs finish, and so do the answers being written (a NIM result is encoded after its job)
      const idle = (async () => {
        await engine?.idle();
        while (answering > 0) await new Promise((r) => setTimeout(r, 20));
      })();
      const grace = new Promise<void>((r) => setTimeout(r, config.shutdownGraceMs).unref());
      await Promise.race([idle, grace]);
      server.closeAllConnections();
      await stopped;
      jobs.close();
      await engine?.close();
      log.info('stopped');
    })());
  return { server, url, state, ready, close, engine: () => engine };
}

export { REPO_ROOT };
