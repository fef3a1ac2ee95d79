import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SegmentTimings } from '@vista3d/models';

/** Jobs waiting and running per priority on each worker (the engine's load). */
type LoadSnapshot = Record<string, Record<string, { waiting: number; running: number }>>;

/** Prometheus metrics, as NIMs expose them at /v1/metrics: requests, latency, queue depth, inference stages. */
export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'method' | 'route'>;
  queueWaiting: Gauge;
  queueRunning: Gauge;
  stageSeconds: Histogram<'stage'>;
  windows: Counter;
  featureCache: Counter<'result'>;
  /** Lookups of the per-image state (features, prepared model-space image) and of the series cache. */
  cacheLookups: Counter<'cache' | 'result'>;
  /** Entries pushed out of a bounded cache to make room. */
  cacheEvictions: Counter<'cache'>;
  /** Runs sent to each worker process (by image affinity, else to the least loaded). */
  workerRuns: Counter<'worker' | 'reason'>;
  /** Where the queue-depth gauge (per worker, priority and state) reads from at each scrape. */
  loadOf(source: () => LoadSnapshot): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let loadSource: () => LoadSnapshot = () => ({});
  new Gauge({
    name: 'inference_queue_depth',
    help: 'Inference jobs per worker (local: this process), priority (interactive, batch) and state (waiting, running)',
    labelNames: ['worker', 'priority', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [worker, load] of Object.entries(loadSource()))
        for (const [priority, n] of Object.entries(load)) {
          this.set({ worker, priority, state: 'waiting' }, n.waiting);
          this.set({ worker, priority, state: 'running' }, n.running);
        }
    },
  });
  return {
    loadOf: (source) => {
      loadSource = source;
    },
    registry,
    workerRuns: new Counter({ name: 'inference_worker_runs_total', help: 'Runs sent to each worker (reason: affinity = it held the image, least_loaded, retry = its first worker died)', labelNames: ['worker', 'reason'], registers: [registry] }),
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    queueWaiting: new Gauge({ name: 'inference_queue_waiting', help: 'Inference requests waiting for the device', registers: [registry] }),
    queueRunning: new Gauge({ name: 'inference_queue_running', help: 'Inference requests running', registers: [registry] }),
    stageSeconds: new Histogram({
      name: 'inference_stage_seconds',
      help: 'Time per inference stage (load, preprocess, inference, runtime, postprocess, encode)',
      labelNames: ['stage'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    windows: new Counter({ name: 'inference_windows_total', help: 'Sliding windows run', registers: [registry] }),
    featureCache: new Counter({ name: 'inference_feature_cache_total', help: 'Encoder-feature lookups per window (hit: the encoder did not run)', labelNames: ['result'], registers: [registry] }),
    cacheLookups: new Counter({ name: 'cache_lookups_total', help: 'Lookups per bounded cache (features, prepared, series)', labelNames: ['cache', 'result'], registers: [registry] }),
    cacheEvictions: new Counter({ name: 'cache_evictions_total', help: 'Entries evicted (least recently used) per bounded cache: features, prepared, series', labelNames: ['cache'], registers: [registry] }),
  };
}

/** One segmentation's stage times and windows, wherever it ran (this process or a worker). */
export function recordTimings(m: Metrics, t: SegmentTimings): void {
  m.stageSeconds.observe({ stage: 'preprocess' }, t.preprocessMs / 1000);
  m.stageSeconds.observe({ stage: 'inference' }, t.inferenceMs / 1000);
  m.stageSeconds.observe({ stage: 'runtime' }, t.runtimeMs / 1000);
  m.stageSeconds.observe({ stage: 'postprocess' }, t.postprocessMs / 1000);
  m.windows.inc(t.windows);
}
