/**
 * Scale-out on Redis, as deployed: a real redis-server, two front ends and three workers, each its own process.
 * A job started through one front end is watched, fetched and cancelled through the other; a worker killed with
 * SIGKILL mid-job has its jobs run again once elsewhere (and a job whose worker dies twice fails with a clear
 * error); Redis killed and restarted, or a front end killed and restarted, loses no job.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { Redis } from 'ioredis';
import { readNifti, writeNifti, type JobView, type Volume } from '@vista3d/models';
import { redisMissing, startFrontEnd, startRedis, startWorker, type FrontEnd, type Proc, type RunningRedis } from '../../test/cluster.ts';
import { makeTestEnv, startJob, untilJob, type TestEnv } from '../../test/support.ts';

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ended = (v: JobView) => v.state === 'done' || v.state === 'failed' || v.state === 'cancelled';

function cube(n: number, seed: number): Volume<Float32Array> {
  const data = new Float32Array(n ** 3);
  for (let o = 0; o < data.length; o++) {
    const [i, j, k] = [o % n, Math.floor(o / n) % n, Math.floor(o / n / n)];
    data[o] = (i - n / 2) ** 2 + (j - n / 2) ** 2 + (k - n / 2) ** 2 < n ? 0.3 : i < n / 4 ? 0.1 + seed / 1e4 : 0;
  }
  return { data, dims: [n, n, n], spacing: [1, 1, 1.5], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] };
}

describe('scale-out on Redis: two front ends, three workers, one redis-server', { skip: redisMissing() ?? undefined }, () => {
  let t: TestEnv;
  let redis: RunningRedis;
  let db: Redis;
  let a: FrontEnd;
  let b: FrontEnd;
  const workers = new Map<string, Proc>();
  let env: Record<string, string>;
  let images = 0;
  const image = async (n = 12) => {
    const name = `cube-${++images}.nii.gz`;
    await writeFile(join(t.images, name), writeNifti(cube(n, images)));
    return name;
  };
  // front ends restart in these tests: a view that cannot be had meanwhile is asked again
  const until = (fe: FrontEnd, id: string, ok: (v: JobView) => boolean, ms = 60_000) => untilJob(fe, id, ok, ms, true);

  /** The worker a job was last sent to (its hash in Redis). */
  const workerOf = (id: string) => db.hget(`vista3d:job:${id}`, 'worker');
  const logs = () => [a, b, ...workers.values()].map((p) => p?.output().slice(-1500)).join('\n---\n');

  before(async () => {
    t = await makeTestEnv({ roi: [4, 4, 4], overlap: 0.5 });
    redis = await startRedis();
    db = new Redis(redis.url, { maxRetriesPerRequest: null });
    db.on('error', () => undefined);
    env = {
      REDIS_URL: redis.url,
      MODEL_DIR: join(t.dir, 'model'),
      DEVICE: 'cpu',
      THREADS: '1',
      IMAGE_ROOTS: t.images,
      IMAGE_URI_ALLOWED_NETWORKS: '127.0.0.0/8',
      MAX_WINDOWS: '1000000',
      MAX_JOBS_PER_CLIENT: '32',
      WORKER_TIMEOUT_MS: '2500',
      LOG_LEVEL: 'info',
      NIM_HTTP_MAX_WORKERS: '0',
    };
    await Promise.all(['wa', 'wb', 'wc'].map(async (n) => workers.set(n, await startWorker(env, n))));
    [a, b] = await Promise.all([startFrontEnd(env), startFrontEnd(env)]);
  });
  after(async () => {
    await Promise.all([a?.kill(), b?.kill(), ...[...workers.values()].map((w) => w.kill())]);
    db?.disconnect();
    await redis?.close();
    await t?.cleanup();
  });

  it('a job started through one front end is watched, fetched and equal to the NIM answer through the other', async () => {
    const name = await image();
    const id = await startJob(a, { image: name, prompts: { classes: ['liver', 'spleen'] } });
    // events through b, to the end
    const events = await (await fetch(`${b.url}/v1/vista3d/jobs/${id}/events`)).text();
    assert.match(events, /event: end\ndata: \{"id":"[\w-]+","state":"done"/);
    const region = await fetch(`${b.url}/v1/vista3d/jobs/${id}/result?format=region`);
    assert.equal(region.status, 200);
    assert.match(region.headers.get('x-vista3d-region') ?? '', /^\d+,\d+,\d+,\d+,\d+,\d+$/);
    const file = await fetch(`${a.url}/v1/vista3d/jobs/${id}/result?format=file`);
    const labels = readNifti(new Uint8Array(await file.arrayBuffer())).data as Uint8Array;
    assert.ok(labels.includes(3) && labels.includes(1), 'liver and spleen found');
    const nim = await fetch(`${b.url}/v1/vista3d/inference`, { method: 'POST', headers: json, body: JSON.stringify({ image: name, prompts: { classes: ['liver', 'spleen'] } }) });
    assert.equal(nim.status, 200, await nim.clone().text());
    assert.deepEqual(readNifti(Object.values(unzipSync(new Uint8Array(await nim.arrayBuffer())))[0]).data, labels);
    const info = await (await fetch(`${b.url}/v1/vista3d/info`)).json();
    assert.match(info.device, /wa: cpu/);
    const metrics = await (await fetch(`${a.url}/v1/metrics`)).text();
    for (const w of ['wa', 'wb', 'wc']) assert.match(metrics, new RegExp(`inference_queue_depth\\{worker="${w}",priority="interactive",state="waiting"\\} \\d`));
  });

  it('cancel through the other front end stops a running job; a prepare is shared and its image sticks to one worker', async () => {
    const id = await startJob(a, { image: await image(48), prompts: { classes: ['liver'] } });
    await until(b, id, (v) => v.state === 'running' || ended(v));
    const del = await fetch(`${b.url}/v1/vista3d/jobs/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const v = await until(a, id, ended, 20_000);
    assert.equal(v.state, 'cancelled', JSON.stringify(v));
    assert.equal((await fetch(`${a.url}/v1/vista3d/jobs/${id}/result`)).status, 409);

    const name = await image();
    const p = await fetch(`${a.url}/v1/vista3d/prepare`, { method: 'POST', headers: json, body: JSON.stringify({ image: name }) });
    assert.equal(p.status, 202);
    let pv: { state: string } | undefined;
    for (let i = 0; i < 100 && pv?.state !== 'ready'; i++) {
      await sleep(100);
      pv = await (await fetch(`${b.url}/v1/vista3d/prepare?image=${name}`)).json();
    }
    assert.equal(pv?.state, 'ready');
    const holder = await db.hget('vista3d:affinity', name);
    const jobs = [await startJob(b, { image: name, prompts: { points: { spleen: [[6, 6, 6]] } } }), await startJob(a, { image: name, prompts: { classes: ['liver'] } })];
    for (const j of jobs) {
      assert.equal((await until(a, j, ended)).state, 'done');
      assert.equal(await workerOf(j), holder, 'the worker that prepared the image runs its prompts');
    }
  });

  it('SIGKILL of a worker mid-job: its jobs run again once on another worker; a job whose worker dies twice fails with a clear error', async () => {
    const name = await image(48);
    const long = await startJob(a, { image: name, prompts: { classes: ['liver'] } });
    const queued = await startJob(b, { image: name, prompts: { points: { spleen: [[24, 24, 24]] } } });
    await until(a, long, (v) => (v.stage === 'inference' && v.done > 0) || ended(v));
    const first = (await workerOf(long))!;
    assert.equal(await workerOf(queued), first, 'both on the worker holding the image');
    await workers.get(first)!.kill('SIGKILL');
    for (const id of [long, queued]) {
      const v = await until(b, id, ended, 90_000);
      assert.equal(v.state, 'done', `${JSON.stringify(v)}\n${logs()}`);
      assert.notEqual(await workerOf(id), first);
    }
    workers.set(first, await startWorker(env, first));

    const doomed = await startJob(b, { image: await image(56), prompts: { classes: ['liver'] } });
    for (let kill = 0; kill < 2; kill++) {
      const v = await until(a, doomed, (x) => (x.stage === 'inference' && x.done > 0) || ended(x), 90_000);
      assert.equal(v.state, 'running', `still running when its worker is killed (${kill + 1})`);
      const w = (await workerOf(doomed))!;
      await workers.get(w)!.kill('SIGKILL');
      workers.delete(w);
      await until(a, doomed, (x) => x.stage !== 'inference' || ended(x), 30_000);
    }
    const v = await until(a, doomed, ended, 30_000);
    assert.equal(v.state, 'failed');
    assert.equal(v.error?.status, 503);
    assert.match(v.error!.detail, /stopped, also on its retry/);
    for (const n of ['wa', 'wb', 'wc']) if (!workers.has(n)) workers.set(n, await startWorker(env, n));
  });

  it('Redis killed and restarted mid-job, and a front end killed and restarted: no job is lost', async () => {
    const name = await image(40);
    const running = await startJob(a, { image: name, prompts: { classes: ['liver'] } });
    const waiting = await startJob(a, { image: name, prompts: { points: { spleen: [[20, 20, 20]] } } });
    await until(a, running, (v) => (v.stage === 'inference' && v.done > 0) || ended(v));
    await redis.restart();
    for (const id of [running, waiting]) assert.equal((await until(b, id, ended, 90_000)).state, 'done', logs());

    const later = await startJob(a, { image: await image(40), prompts: { classes: ['liver'] } });
    await a.kill('SIGKILL');
    a = await startFrontEnd(env, a.port);
    const v = await until(a, later, ended, 90_000);
    assert.equal(v.state, 'done');
    const file = await fetch(`${a.url}/v1/vista3d/jobs/${later}/result?format=file`);
    assert.equal(file.status, 200);
  });

  it('every worker gone mid-job, none to take it over: the job fails with a 504 at its deadline, never silently', async () => {
    const short = await startFrontEnd({ ...env, REQUEST_TIMEOUT_MS: '3000' });
    try {
      const id = await startJob(short, { image: await image(56), prompts: { classes: ['liver'] } });
      await until(short, id, (v) => (v.stage === 'inference' && v.done > 0) || ended(v));
      await Promise.all([...workers.values()].map((w) => w.kill('SIGKILL')));
      workers.clear();
      const v = await until(b, id, ended, 40_000);
      assert.equal(v.state, 'failed');
      assert.equal(v.error?.status, 504);
      assert.match(v.error!.detail, /no inference worker finished it/);
      // a new job is refused at once while no worker beats
      await sleep(3000);
      const r = await fetch(`${a.url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ image: await image(), prompts: { classes: ['liver'] } }) });
      assert.equal(r.status, 503);
      assert.match(((await r.json()) as { detail: string }).detail, /no inference worker is running/);
    } finally {
      await short.kill();
    }
  });
});
