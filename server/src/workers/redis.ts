/**
 * Scale-out on Redis (REDIS_URL): job state, results and the queues live in Redis, so any front end answers any
 * job's poll, events, result and cancel, and workers on any machine share the load.
 *
 * - Dispatch is BullMQ: one queue per worker (`vista3d-<worker>`). A front end sends a run to the worker that
 *   holds its image (the `vista3d:affinity` hash), else to the least loaded live worker. A worker takes what its
 *   queue holds (up to QUEUE_DEPTH + 1 at once) into its own device queue, which orders it (clicks first, clients
 *   in turn, batch work yielding between windows) — as in a single server.
 * - A job's view is the hash `vista3d:job:<id>` (written by the worker running it; cancel and fetch marks by front
 *   ends, each its own field: no lost updates); its result (the region's NIfTI) is `vista3d:result:<id>`. Both
 *   expire on the schedule of RESULT_TTL_MS / RESULT_FETCHED_TTL_MS. Changes are announced on `vista3d:events`;
 *   watchers also re-read every second (Pub/Sub drops what a disconnected subscriber missed).
 * - Workers beat every second (`vista3d:workers`, a sorted set of last beats). One live worker at a time (a lock)
 *   reaps workers silent for WORKER_TIMEOUT_MS: what their queue held goes to a live worker once; a run sent
 *   twice fails with a clear error. Redis itself should persist (appendonly): a restart then loses nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import { jobEnded, type JobView, type ModelManifest, type PrepareView } from '@vista3d/models';
import type { SessionStore } from '../auth/authenticator.ts';
import type { Config } from '../config.ts';
import { errorView, HttpError } from '../http/errors.ts';
import { remoteModelView, type Engine, type EngineLoad, type EngineRun, type LocalEngine, type ModelView, type RunOptions, type RunRequest } from '../inference/engine.ts';
import { encodeResult, serializeRegion, storedRegion, whenEnded, type Job, type JobLimits, type JobOutput, type JobStore, type StoredResult } from '../inference/jobs.ts';
import type { QueueLoad } from '../inference/queue.ts';
import type { Logger } from '../logger.ts';

const K = {
  workers: 'vista3d:workers',
  load: 'vista3d:load',
  info: 'vista3d:info',
  affinity: 'vista3d:affinity',
  reaper: 'vista3d:reaper',
  jobs: 'vista3d:jobs',
  clientJobs: (client: string) => `vista3d:client-jobs:${sha(client)}`,
  job: (id: string) => `vista3d:job:${id}`,
  result: (id: string) => `vista3d:result:${id}`,
  session: (key: string) => `vista3d:session:${key}`,
  prepare: (client: string, image: string) => `vista3d:prepare:${sha(`${client}\0${image}`)}`,
  events: 'vista3d:events',
  cancel: 'vista3d:cancel',
};
const queueName = (worker: string) => `vista3d-${worker.replace(/[^\w.-]/g, '_')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
const BEAT_MS = 1000;
const WATCH_POLL_MS = 1000;
/** A run is sent at most this many times (its worker died under it once: sent again, once). */
const MAX_ATTEMPTS = 2;
const PRIORITY = { interactive: 1, batch: 2 } as const;
/** A worker ends a job at its deadline itself; a front end reports it failed this much later if none did. */
const DEADLINE_GRACE_MS = 15_000;

interface RunData {
  id: string;
  req: RunRequest;
  attempt: number;
}

interface PrepareData {
  client: string;
  image: string;
}

/** What `vista3d:job:<id>` holds: each field has one writer. */
interface JobHash {
  /** JSON: the public view (worker, or the reaper when it fails a job). */
  view?: string;
  client?: string;
  /** The worker it was last sent to. */
  worker?: string;
  attempt?: string;
  /** JSON StoredResult without path (the worker). */
  result?: string;
  /** Set by a front end: the client asked to cancel. */
  cancel?: string;
  /** Set by a front end at the first fetch. */
  fetchedAt?: string;
  /** When the job must have ended (ms since the epoch; REQUEST_TIMEOUT_MS after it started). */
  deadline?: string;
}

function connect(url: string, log: Logger, what: string): Redis {
  // maxRetriesPerRequest null: commands wait for a reconnect instead of failing (BullMQ requires it)
  const r = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
  let down = false;
  r.on('error', (e) => {
    if (!down) log.warn('redis unavailable; retrying', { what, error: e.message });
    down = true;
  });
  r.on('ready', () => {
    if (down) log.info('redis reachable again', { what });
    down = false;
  });
  return r;
}

/** The workers Redis knows, as a front end or the reaper sees them: beats, load, queues. */
class Cluster {
  readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();
  /** Refreshed every beat: live workers' load (for least-loaded picks, /v1/metrics and the 503 bound). */
  live: Record<string, QueueLoad & { device?: string }> = {};
  private timer?: NodeJS.Timeout;
  constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly timeoutMs: number,
  ) {
    this.redis = connect(config.redisUrl!, log, 'cluster');
  }

  queue(worker: string): Queue {
    let q = this.queues.get(worker);
    if (!q) this.queues.set(worker, (q = new Queue(queueName(worker), { connection: this.redis })));
    return q;
  }

  async refresh(): Promise<void> {
    const now = Date.now();
    const names = await this.redis.zrangebyscore(K.workers, now - this.timeoutMs, '+inf');
    const loads = names.length ? await this.redis.hmget(K.load, ...names) : [];
    this.live = Object.fromEntries(names.map((n, i) => [n, loads[i] ? JSON.parse(loads[i]!) : { interactive: { waiting: 0, running: 0 }, batch: { waiting: 0, running: 0 } }]));
  }

  watchLive(): void {
    const tick = () => this.refresh().catch(() => undefined);
    void tick();
    this.timer = setInterval(tick, BEAT_MS);
    this.timer.unref();
  }

  /** The live worker that holds `image`, else the live worker with the fewest jobs. */
  async pick(image: string): Promise<string | undefined> {
    await this.refresh();
    const held = await this.redis.hget(K.affinity, image);
    if (held && held in this.live) return held;
    const count = (l: QueueLoad) => l.interactive.waiting + l.interactive.running + l.batch.waiting + l.batch.running;
    let best: string | undefined;
    for (const [n, l] of Object.entries(this.live)) if (best === undefined || count(l) < count(this.live[best])) best = n;
    return best;
  }

  /** Sends a run to a worker (by affinity, else least loaded) and records where it went. */
  async send(data: RunData, client: string): Promise<string> {
    const worker = await this.pick(data.req.prepared.image);
    if (!worker) throw new HttpError(503, 'no_workers', 'no inference worker is running (start one: npm run worker, with this REDIS_URL); retry later', { 'Retry-After': '10' });
    await this.redis.multi().hset(K.job(data.id), { worker, attempt: String(data.attempt), client }).hset(K.affinity, data.req.prepared.image, worker).exec();
    await this.queue(worker).add('run', data, { jobId: `${data.id}-${data.attempt}`, priority: PRIORITY[data.req.priority], removeOnComplete: true, removeOnFail: true });
    return worker;
  }

  async readJob(id: string): Promise<JobHash | undefined> {
    const h = (await this.redis.hgetall(K.job(id))) as JobHash;
    return h.client ? h : undefined;
  }

  /** Writes a job's view and announces it. */
  async writeView(id: string, view: JobView, extra: Partial<JobHash> = {}, ttlMs?: number): Promise<void> {
    const m = this.redis.multi().hset(K.job(id), { view: JSON.stringify(view), ...extra });
    if (ttlMs) m.pexpire(K.job(id), ttlMs);
    await m.publish(K.events, id).exec();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}

const initialView = (id: string): JobView => ({ id, state: 'queued', stage: 'queued', done: 0, total: 0 });

/** A job as the routes see it, rebuilt from its hash (a snapshot; `refresh` reads it again). */
function jobFrom(id: string, h: JobHash): Job {
  let view: JobView = h.view ? JSON.parse(h.view) : initialView(id);
  // past its deadline and not ended: no worker finished it (all gone, or none took it); the client is told so
  if (!jobEnded(view) && h.deadline && Date.now() > Number(h.deadline) + DEADLINE_GRACE_MS) {
    view = { ...view, state: 'failed', queue_position: undefined, error: { status: 504, detail: 'the job did not finish within REQUEST_TIMEOUT_MS: no inference worker finished it' } };
  }
  const result: StoredResult | undefined = h.result ? { ...JSON.parse(h.result), path: '' } : undefined;
  const job: Job = { ...view, client: h.client!, abort: new AbortController(), result, position: () => view.queue_position };
  if (h.fetchedAt) job.fetchedAt = Number(h.fetchedAt);
  return job;
}

/**
 * The viewer's jobs in Redis: what every front end sees. Bounded as the in-process registry is (MAX_JOBS,
 * MAX_JOBS_PER_CLIENT), each job with its expiry; results are read from Redis.
 */
export class RedisJobs implements JobStore {
  private readonly sub: Redis;
  private readonly watchers = new Map<string, Set<() => void>>();
  constructor(
    private readonly cluster: Cluster,
    private readonly limits: JobLimits,
  ) {
    this.sub = cluster.redis.duplicate();
    void this.sub.subscribe(K.events);
    this.sub.on('message', (_ch, id: string) => this.poke(id));
  }

  private poke(id: string): void {
    for (const fn of [...(this.watchers.get(id) ?? [])]) fn();
  }

  /** Counts of live jobs (in all, and this client's), after dropping the expired ones. */
  private async counts(client: string): Promise<[number, number]> {
    const now = Date.now();
    const r = this.cluster.redis;
    const [, , all, mine] = (await r.multi().zremrangebyscore(K.jobs, '-inf', now).zremrangebyscore(K.clientJobs(client), '-inf', now).zcard(K.jobs).zcard(K.clientJobs(client)).exec())!;
    return [Number(all[1]), Number(mine[1])];
  }

  async start(client: string, run: EngineRun): Promise<Job> {
    const req = run.request;
    if (!req) throw new Error('a Redis job needs a run request');
    const retry = { 'Retry-After': '30' };
    const [all, mine] = await this.counts(client);
    if (all >= this.limits.maxJobs) throw new HttpError(503, 'too_many_jobs', `the servers hold ${all} jobs, their limit (MAX_JOBS); retry when results have been fetched or have expired`, retry);
    if (mine >= this.limits.maxPerClient) throw new HttpError(429, 'too_many_jobs_for_client', `you hold ${mine} jobs, the limit per client (MAX_JOBS_PER_CLIENT); fetch or cancel some first`, retry);
    const id = randomUUID();
    const expires = Date.now() + this.limits.timeoutMs + this.limits.ttlMs;
    const r = this.cluster.redis;
    await r
      .multi()
      .hset(K.job(id), { client, view: JSON.stringify(initialView(id)), deadline: String(Date.now() + this.limits.timeoutMs) })
      .pexpire(K.job(id), this.limits.timeoutMs + this.limits.ttlMs)
      .zadd(K.jobs, expires, id)
      .zadd(K.clientJobs(client), expires, id)
      .pexpire(K.clientJobs(client), this.limits.timeoutMs + this.limits.ttlMs)
      .exec();
    try {
      await this.cluster.send({ id, req, attempt: 1 }, client);
    } catch (e) {
      await r.multi().del(K.job(id)).zrem(K.jobs, id).zrem(K.clientJobs(client), id).exec();
      throw e;
    }
    return jobFrom(id, { client, view: JSON.stringify(initialView(id)) });
  }

  async get(id: string, client: string): Promise<Job | undefined> {
    if (!/^[\w-]{1,64}$/.test(id)) return undefined;
    const h = await this.cluster.readJob(id);
    return h && h.client === client ? jobFrom(id, h) : undefined;
  }

  /** Calls `fn` with the job after each change (announced, or seen at the 1 s re-read) and once more when it has ended. */
  watch(job: Job, fn: (j: Job) => void): () => void {
    if (jobEnded(job)) return () => undefined;
    let last = JSON.stringify(job);
    let stopped = false;
    const check = async () => {
      const h = await this.cluster.readJob(job.id).catch(() => undefined);
      if (stopped || !h) return;
      const fresh = jobFrom(job.id, h);
      const key = JSON.stringify(fresh);
      if (key === last) return;
      last = key;
      Object.assign(job, fresh);
      fn(job);
      if (jobEnded(job)) stop();
    };
    let set = this.watchers.get(job.id);
    if (!set) this.watchers.set(job.id, (set = new Set()));
    const poke = () => void check();
    set.add(poke);
    const timer = setInterval(poke, WATCH_POLL_MS);
    const stop = () => {
      stopped = true;
      clearInterval(timer);
      set.delete(poke);
      if (!set.size) this.watchers.delete(job.id);
    };
    void check();
    return stop;
  }

  ended(job: Job, signal: AbortSignal): Promise<void> {
    return whenEnded((j, fn) => this.watch(j, fn), job, signal);
  }


  async read(job: Job, as: 'region' | 'file' | 'zip'): Promise<Uint8Array> {
    const r = job.result;
    if (!r) throw new Error(`job ${job.id} has no result`);
    const bytes = await this.cluster.redis.getBuffer(K.result(job.id));
    if (!bytes) throw new HttpError(404, 'job_not_found', `the result of job ${job.id} has expired`);
    if (!job.fetchedAt) {
      const ttl = this.limits.fetchedTtlMs;
      await this.cluster.redis.multi().hsetnx(K.job(job.id), 'fetchedAt', String(Date.now())).pexpire(K.job(job.id), ttl, 'LT').pexpire(K.result(job.id), ttl, 'LT').exec();
    }
    const region = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (as === 'region') return region;
    return encodeResult({ ...r, region: storedRegion(r, region) }, as);
  }

  async cancel(id: string, client: string): Promise<Job | undefined> {
    const job = await this.get(id, client);
    if (!job) return undefined;
    const r = this.cluster.redis;
    if (!jobEnded(job)) await r.multi().hset(K.job(id), 'cancel', '1').publish(K.cancel, JSON.stringify({ job: id })).exec();
    else await r.multi().del(K.job(id), K.result(id)).zrem(K.jobs, id).zrem(K.clientJobs(client), id).exec();
    return job;
  }

  close(): void {
    this.sub.disconnect();
  }
}

/** The front end's engine: runs and prepares go to workers through Redis; the model is what the workers loaded. */
export class RedisEngine implements Engine {
  readonly model: ModelView;
  private manifest?: ModelManifest;
  private readonly children: ChildProcess[] = [];
  private closing = false;

  private constructor(
    private readonly cluster: Cluster,
    readonly jobs: RedisJobs,
    private readonly limits: JobLimits,
    private readonly prepareKeepMs: number,
  ) {
    this.model = remoteModelView(
      () => this.manifest!,
      () =>
        Object.entries(cluster.live)
          .map(([n, l]) => `${n}: ${l.device ?? '?'}`)
          .join(', '),
    );
  }

  /**
   * Starts NIM_HTTP_MAX_WORKERS local worker processes (restarted when they die) and resolves once a worker has
   * published the model (any worker, on any machine).
   */
  static async start(config: Config, log: Logger, cluster: Cluster, jobs: RedisJobs, frontEndUrl: string): Promise<RedisEngine> {
    const e = new RedisEngine(cluster, jobs, { ...config.jobs, timeoutMs: config.requestTimeoutMs }, 60_000);
    cluster.watchLive();
    for (let i = 0; i < config.workers; i++) e.supervise(config, i, frontEndUrl, log);
    for (;;) {
      const info = await cluster.redis.get(K.info);
      if (info) {
        e.manifest = JSON.parse(info);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await cluster.refresh();
    return e;
  }

  private supervise(config: Config, index: number, frontEndUrl: string, log: Logger, restarts = 0): void {
    const proc = fork(fileURLToPath(new URL('./main.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...config.env, VISTA3D_FRONTEND_URL: frontEndUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.children.push(proc);
    proc.on('exit', (code, signal) => {
      this.children.splice(this.children.indexOf(proc), 1);
      if (this.closing) return;
      log.error('worker stopped; restarting it', { index, why: signal ?? `exit code ${code}` });
      setTimeout(() => !this.closing && this.supervise(config, index, frontEndUrl, log, restarts + 1), Math.min(30_000, 500 * 2 ** restarts)).unref();
    });
  }

  admit(req: RunRequest): EngineRun {
    const live = Object.values(this.cluster.live);
    if (!live.length) throw new HttpError(503, 'no_workers', 'no inference worker is running (start one: npm run worker, with this REDIS_URL); retry later', { 'Retry-After': '10' });
    const held = live.reduce((n, l) => n + l.interactive.waiting + l.interactive.running + l.batch.waiting + l.batch.running, 0);
    if (held >= (this.cluster.config.queueDepth + 1) * live.length) {
      throw new HttpError(503, 'overloaded', `the servers are busy: ${held} requests are already running or waiting on ${live.length} workers; retry later`, { 'Retry-After': '10' });
    }
    return {
      request: req,
      position: () => undefined,
      release: () => undefined,
      // the NIM endpoint: a job like the viewer's, waited for here
      run: (opts: RunOptions = {}) => this.runAndWait(req, opts),
    };
  }

  private async runAndWait(req: RunRequest, opts: RunOptions): Promise<JobOutput> {
    const job = await this.jobs.start(req.client, { request: req, position: () => undefined, release: () => undefined, run: () => Promise.reject(new Error('unused')) });
    const abort = () => void this.jobs.cancel(job.id, req.client);
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      const unwatch = this.jobs.watch(job, (j) => opts.onProgress?.({ stage: j.stage, done: j.done, total: j.total }));
      await this.jobs.ended(job, AbortSignal.timeout(this.limits.timeoutMs + 5000));
      unwatch();
      if (job.state !== 'done' || !job.result) throw new HttpError(job.error?.status ?? 504, job.state === 'cancelled' ? 'cancelled' : 'job_failed', job.error?.detail ?? `the job did not finish within ${this.limits.timeoutMs} ms`);
      const r = job.result;
      const bytes = await this.jobs.read(job, 'region');
      const out: JobOutput = { fileName: r.fileName, format: r.format, geometry: r.geometry, region: storedRegion(r, bytes), warnings: job.warnings };
      await this.jobs.cancel(job.id, req.client); // ended: removes it
      return out;
    } finally {
      opts.signal?.removeEventListener('abort', abort);
    }
  }

  async prepare(client: string, image: string): Promise<PrepareView> {
    const worker = await this.cluster.pick(image);
    if (!worker) throw new HttpError(503, 'no_workers', 'no inference worker is running; retry later', { 'Retry-After': '10' });
    const known = await this.getPrepare(image, client);
    if (known && (known.state === 'loading' || known.state === 'ready')) return known;
    const view: PrepareView = { image, state: 'loading' };
    const r = this.cluster.redis;
    await r.multi().set(K.prepare(client, image), JSON.stringify(view), 'PX', this.prepareKeepMs).hset(K.affinity, image, worker).exec();
    await this.cluster.queue(worker).add('prepare', { client, image } satisfies PrepareData, { priority: PRIORITY.interactive, removeOnComplete: true, removeOnFail: true });
    return view;
  }

  async getPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    const v = await this.cluster.redis.get(K.prepare(client, image));
    return v ? JSON.parse(v) : undefined;
  }

  async cancelPrepare(image: string, client: string): Promise<PrepareView | undefined> {
    const v = await this.getPrepare(image, client);
    if (!v) return undefined;
    await this.cluster.redis.multi().del(K.prepare(client, image)).publish(K.cancel, JSON.stringify({ prepare: image, client })).exec();
    return v.state === 'loading' ? { ...v, state: 'cancelled' } : v;
  }

  load(): EngineLoad {
    return Object.fromEntries(Object.entries(this.cluster.live).map(([n, l]) => [n, { interactive: l.interactive, batch: l.batch }]));
  }

  async idle(): Promise<void> {
    // jobs belong to the cluster: a front end going away leaves them to the workers
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.children) c.kill('SIGTERM');
    await this.cluster.close();
  }
}

/** Login sessions in Redis: a viewer logged in through one front end is known to all; idle ones expire there. */
export class RedisSessions implements SessionStore {
  constructor(private readonly redis: Redis) {}
  async use(key: string, idleMs: number): Promise<string | undefined> {
    const user = await this.redis.get(K.session(key));
    if (user) await this.redis.pexpire(K.session(key), idleMs);
    return user ?? undefined;
  }
  async open(key: string, user: string, idleMs: number): Promise<void> {
    await this.redis.set(K.session(key), user, 'PX', idleMs);
  }
  async close(key: string): Promise<void> {
    await this.redis.del(K.session(key));
  }
}

/**
 * A front end on Redis: its job store at once (the routes are built before the model is known), its engine once a
 * worker has published the model.
 */
export function redisFrontEnd(config: Config, log: Logger): { jobs: RedisJobs; sessions: RedisSessions; engine(frontEndUrl: string): Promise<RedisEngine> } {
  const cluster = new Cluster(config, log, config.workerTimeoutMs);
  const jobs = new RedisJobs(cluster, { ...config.jobs, timeoutMs: config.requestTimeoutMs });
  return { jobs, sessions: new RedisSessions(cluster.redis), engine: (url) => RedisEngine.start(config, log, cluster, jobs, url) };
}


/**
 * A worker on Redis: beats, takes its queue's runs and prepares into its device queue, writes their progress,
 * results and failures, obeys cancels, and (one worker at a time) reaps workers that stopped beating.
 */
export async function runRedisWorker(config: Config, engine: LocalEngine, given: string, log: Logger): Promise<void> {
  // names are unique across machines: host and process unless the operator named the worker (VISTA3D_WORKER_NAME)
  const name = given;
  const cluster = new Cluster(config, log, config.workerTimeoutMs);
  const r = cluster.redis;
  const ttl = config.jobs.ttlMs;
  const running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const beat = async () => {
    await r.multi().zadd(K.workers, Date.now(), name).hset(K.load, name, JSON.stringify({ ...engine.service.queue.load, device: engine.model.device })).exec();
  };
  await r.set(K.info, JSON.stringify(engine.model.manifest));
  await beat();

  const runJob = async (data: RunData, signal?: AbortSignal) => {
    const { id } = data;
    const h = await cluster.readJob(id);
    if (!h || h.worker !== name || Number(h.attempt) !== data.attempt) return; // gone, or sent elsewhere since
    const view = (v: Partial<JobView>) => ({ ...initialView(id), ...(h.view ? JSON.parse(h.view) : {}), ...v }) as JobView;
    if (h.cancel) return cluster.writeView(id, view({ state: 'cancelled', error: { status: 409, detail: 'cancelled by the client' } }), {}, ttl);
    const abort = new AbortController();
    const deadline = Number((await r.hget(K.job(id), 'deadline')) ?? Date.now() + config.requestTimeoutMs);
    const timeout = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    const all = AbortSignal.any([abort.signal, timeout, ...(signal ? [signal] : [])]);
    let current = view({});
    let pending = Promise.resolve();
    const write = (v: Partial<JobView>, extra: Partial<JobHash> = {}, expire?: number) => {
      current = { ...current, ...v };
      const snapshot = current;
      pending = pending.then(() => cluster.writeView(id, snapshot, extra, expire)).catch((e) => log.warn('job state not written', { jobId: id, error: String(e) }));
      return pending;
    };
    const done = (async () => {
      const run = engine.admit(data.req);
      let position: number | undefined;
      const positions = setInterval(() => {
        const p = run.position();
        if (p !== position && current.state === 'queued') {
          position = p;
          void write(p ? { queue_position: p } : { queue_position: undefined });
        }
      }, 200);
      try {
        const out = await run.run({
          signal: all,
          onProgress: (p) => {
            const state = current.state === 'queued' && p.stage !== 'queued' && p.stage !== 'load' ? 'running' : current.state;
            void write({ state, stage: p.stage, done: p.done, total: p.total, ...(state === 'running' ? { queue_position: undefined } : {}) });
          },
        });
        const { bytes, meta } = serializeRegion(out);
        await pending;
        await r.set(K.result(id), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'PX', ttl);
        await write({ state: 'done', stage: 'done', queue_position: undefined, ...(out.warnings?.length ? { warnings: out.warnings } : {}) }, { result: JSON.stringify(meta) }, ttl);
      } catch (e) {
        const cancelled = abort.signal.aborted;
        const timedOut = timeout.aborted && !cancelled;
        const error = timedOut ? { status: 504, detail: `the job took longer than ${config.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)` } : errorView(e);
        if (!cancelled && error.status >= 500) log.error('job failed', { jobId: id, error: (e as Error)?.stack ?? String(e) });
        await write({ state: cancelled ? 'cancelled' : 'failed', queue_position: undefined, error }, {}, ttl);
      } finally {
        clearInterval(positions);
      }
    })();
    running.set(id, { abort, done });
    try {
      await done;
    } finally {
      running.delete(id);
    }
  };

  const prepareJob = async ({ client, image }: PrepareData) => {
    const key = K.prepare(client, image);
    let v = await engine.prepare(client, image);
    for (;;) {
      if (!(await r.exists(key))) return void (await engine.cancelPrepare(image, client)); // cancelled meanwhile
      await r.set(key, JSON.stringify(v), 'PX', 60_000);
      if (v.state !== 'loading') return;
      await new Promise((res) => setTimeout(res, 200));
      v = (await engine.getPrepare(image, client)) ?? v;
    }
  };

  const worker = new Worker(
    queueName(name),
    async (job: BullJob, _token?: string, signal?: AbortSignal) => {
      if (job.name === 'prepare') return prepareJob(job.data as PrepareData);
      const data = job.data as RunData;
      const known = running.get(data.id);
      if (known) return known.done; // taken again after a lost lock (Redis restarted): the run goes on
      return runJob(data, signal);
    },
    // a worker takes what its device queue can hold; lock and stall checks are BullMQ's (a reaped worker's jobs are resent by us)
    { connection: r, concurrency: config.queueDepth + 1, lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 1 },
  );
  worker.on('error', (e) => log.warn('queue worker error', { error: e.message }));

  const sub = r.duplicate();
  await sub.subscribe(K.cancel);
  sub.on('message', (_ch, msg: string) => {
    const m = JSON.parse(msg) as { job?: string; prepare?: string; client?: string };
    if (m.job) running.get(m.job)?.abort.abort();
    else if (m.prepare && m.client) void engine.cancelPrepare(m.prepare, m.client);
  });

  /** Resends what a silent worker's queue held (once; a second time fails the job) and forgets the worker. */
  const reap = async () => {
    if ((await r.set(K.reaper, name, 'PX', 5000, 'NX')) !== 'OK') return;
    const dead = await r.zrangebyscore(K.workers, '-inf', Date.now() - config.workerTimeoutMs);
    for (const d of dead) {
      const q = cluster.queue(d);
      const held = await q.getJobs(['active', 'waiting', 'prioritized', 'delayed']);
      for (const j of held) {
        if (j.name === 'prepare') continue;
        const data = j.data as RunData;
        const h = await cluster.readJob(data.id);
        if (!h || h.worker !== d) continue;
        const v: JobView = h.view ? JSON.parse(h.view) : initialView(data.id);
        if (jobEnded(v)) continue;
        if (h.cancel) await cluster.writeView(data.id, { ...v, state: 'cancelled', error: { status: 409, detail: 'cancelled by the client' } }, {}, ttl);
        else if (data.attempt >= MAX_ATTEMPTS) {
          const detail = `the inference worker running this job (${d}) stopped, also on its retry; the job was not finished`;
          await cluster.writeView(data.id, { ...v, state: 'failed', queue_position: undefined, error: { status: 503, detail } }, {}, ttl);
        } else {
          log.warn('resending the job of a worker that stopped', { jobId: data.id, worker: d });
          await cluster.writeView(data.id, { ...v, state: 'queued', stage: 'queued', done: 0, total: 0 });
          await cluster.send({ ...data, attempt: data.attempt + 1 }, h.client!).catch((e) => cluster.writeView(data.id, { ...v, state: 'failed', error: errorView(e) }, {}, ttl));
        }
      }
      await q.obliterate({ force: true }).catch(() => undefined);
      const affinity = await r.hgetall(K.affinity);
      const m = r.multi().zrem(K.workers, d).hdel(K.load, d);
      for (const [image, w] of Object.entries(affinity)) if (w === d) m.hdel(K.affinity, image);
      await m.exec();
      log.warn('worker reaped', { worker: d, resent: held.length });
    }
  };
  const timer = setInterval(() => {
    beat().catch(() => undefined);
    reap().catch((e) => log.warn('reaping failed', { error: String(e) }));
  }, BEAT_MS);
  log.info('worker ready', { worker: name, device: engine.model.device, queue: queueName(name) });

  const stop = async () => {
    clearInterval(timer);
    await worker.close(true);
    for (const x of running.values()) x.abort.abort();
    await r.multi().zrem(K.workers, name).hdel(K.load, name).exec().catch(() => undefined);
    sub.disconnect();
    await cluster.close();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop().finally(() => process.exit(0)));
  // the front end that forked this worker went away
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
}
