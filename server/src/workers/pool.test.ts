/**
 * NIM_HTTP_MAX_WORKERS=2: real worker processes behind one front end, over real HTTP. Results equal the
 * in-process server's voxel for voxel; runs go to the worker holding their image; a worker killed with SIGKILL
 * mid-job is restarted, its job is run again once (and fails with a clear error when its worker dies again), and
 * the other jobs are not lost.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { readNifti, writeNifti, type JobView, type Volume } from '@vista3d/models';
import { makeTestEnv, startJob, startTestServer, untilJob, type TestEnv } from '../../test/support.ts';
import type { RunningServer } from '../server.ts';
import type { PoolEngine } from './pool.ts';

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cube of `n`³ voxels: a bright ball (spleen for the exact test model) in a liver slab; `seed` changes the voxels. */
function cube(n: number, seed: number): Volume<Float32Array> {
  const data = new Float32Array(n ** 3);
  for (let o = 0; o < data.length; o++) {
    const [i, j, k] = [o % n, Math.floor(o / n) % n, Math.floor(o / n / n)];
    data[o] = (i - n / 2) ** 2 + (j - n / 2) ** 2 + (k - n / 2) ** 2 < n ? 0.3 : i < n / 4 ? 0.1 + seed / 1e4 : 0;
  }
  return { data, dims: [n, n, n], spacing: [1, 1.2, 2], direction: [1, 0, 0, 0, 0, 1, 0, -1, 0], origin: [5, -3, 7] };
}

async function metric(s: RunningServer, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${s.url}/v1/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) if (line.startsWith(name)) out[line.slice(name.length, line.lastIndexOf(' '))] = Number(line.slice(line.lastIndexOf(' ') + 1));
  return out;
}

describe('worker processes (NIM_HTTP_MAX_WORKERS=2)', () => {
  let t: TestEnv;
  let pool: RunningServer;
  let single: RunningServer;
  const engine = () => pool.engine() as PoolEngine;
  let images = 0;
  const image = async (n = 12) => {
    const name = `cube-${++images}.nii.gz`;
    await writeFile(join(t.images, name), writeNifti(cube(n, images)));
    return name;
  };
  const until = (s: RunningServer, id: string, ok: (v: JobView) => boolean, ms = 60_000) => untilJob(s, id, ok, ms);


  before(async () => {
    t = await makeTestEnv({ roi: [4, 4, 4], overlap: 0.5 });
    [pool, single] = await Promise.all([startTestServer(t, { NIM_HTTP_MAX_WORKERS: '2', MAX_JOBS_PER_CLIENT: '32' }), startTestServer(t)]);
  });
  after(async () => {
    await Promise.all([pool?.close(), single?.close()]);
    await t?.cleanup();
  });

  it('answers /info with each worker\'s device, and the NIM endpoint gives the in-process server\'s labels voxel for voxel', async () => {
    const info = await (await fetch(`${pool.url}/v1/vista3d/info`)).json();
    assert.match(info.device, /^w0: cpu, w1: cpu$/);
    const name = await image();
    for (const prompts of [{ classes: ['liver', 'spleen'] }, { points: { spleen: [[6, 6, 6]] } }]) {
      const body = JSON.stringify({ image: name, prompts });
      const [a, b] = await Promise.all([pool, single].map((s) => fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: json, body })));
      assert.equal(a.status, 200, await a.clone().text());
      assert.equal(b.status, 200);
      const labels = async (r: Response) => readNifti(Object.values(unzipSync(new Uint8Array(await r.arrayBuffer())))[0]).data as Uint8Array;
      const [la, lb] = await Promise.all([labels(a), labels(b)]);
      assert.ok(la.some((v) => v === 3), 'the ball is found');
      assert.deepEqual(la, lb);
    }
    // bad prompts are refused by the front end, before any worker
    const bad = await fetch(`${pool.url}/v1/vista3d/inference`, { method: 'POST', headers: json, body: JSON.stringify({ image: name, prompts: { classes: ['nonsense'] } }) });
    assert.equal(bad.status, 422);
  });

  it('sends a job to the worker that holds its image, another image to the least loaded worker', async () => {
    const a = await image();
    const b = await image();
    const before = await metric(pool, 'inference_worker_runs_total');
    const first = await startJob(pool, { image: a, prompts: { classes: ['liver'] } });
    assert.equal((await until(pool, first, (v) => v.state === 'done')).state, 'done');
    const again = await startJob(pool, { image: a, prompts: { points: { spleen: [[6, 6, 6]] } } });
    const other = await startJob(pool, { image: b, prompts: { classes: ['liver'] } });
    for (const id of [again, other]) assert.equal((await until(pool, id, (v) => v.state === 'done')).state, 'done');
    const now = await metric(pool, 'inference_worker_runs_total');
    const delta = (k: string) => (now[k] ?? 0) - (before[k] ?? 0);
    const byReason = (reason: string) => ['w0', 'w1'].map((w) => delta(`{worker="${w}",reason="${reason}"}`));
    assert.equal(byReason('affinity').reduce((x, y) => x + y), 1, 'the second job on image a went where a was');
    assert.equal(byReason('least_loaded').reduce((x, y) => x + y), 2);
    const depth = await metric(pool, 'inference_queue_depth');
    assert.ok('{worker="w0",priority="interactive",state="waiting"}' in depth && '{worker="w1",priority="batch",state="running"}' in depth, Object.keys(depth).join(' '));
  });

  it('SIGKILL of a worker mid-job: the worker restarts, its jobs run again once and finish; killed again, the job fails with a clear error', async () => {
    const big = await image(40);
    const long = await startJob(pool, { image: big, prompts: { classes: ['liver'] } });
    const running = await until(pool, long, (v) => v.stage === 'inference' && v.done > 0);
    assert.equal(running.state, 'running');
    // a second job queued behind it on the same worker (same image: affinity)
    const queued = await startJob(pool, { image: big, prompts: { points: { spleen: [[20, 20, 20]] } } });
    const pids = engine().pids;
    const busy = engine().holder(big)!;
    const onBusy = () => engine().load()[`w${busy}`].interactive;
    for (let i = 0; i < 100 && onBusy().running + onBusy().waiting < 2; i++) await sleep(20);
    assert.deepEqual(onBusy(), { running: 1, waiting: 1 }, 'both jobs are on the worker holding the image');
    process.kill(pids[busy]!, 'SIGKILL');
    for (const id of [long, queued]) {
      const v = await until(pool, id, (x) => x.state === 'done' || x.state === 'failed');
      assert.equal(v.state, 'done', JSON.stringify(v));
    }
    // the killed worker came back
    const t0 = Date.now();
    while (engine().pids.some((p) => !p) && Date.now() - t0 < 30_000) await sleep(100);
    assert.ok(engine().pids[busy] && engine().pids[busy] !== pids[busy], 'restarted with a new process');

    const doomedImage = await image(56);
    const doomed = await startJob(pool, { image: doomedImage, prompts: { classes: ['liver'] } });
    for (let kill = 0; kill < 2; kill++) {
      const v = await until(pool, doomed, (x) => (x.stage === 'inference' && x.done > 0) || x.state === 'done' || x.state === 'failed');
      assert.equal(v.state, 'running', `still running when its worker is killed (${kill + 1})`);
      process.kill(engine().pids[engine().holder(doomedImage)!]!, 'SIGKILL');
      // the job is sent again (to the other worker): its progress starts over
      await until(pool, doomed, (v) => v.stage !== 'inference' || v.state !== 'running', 5000);
    }
    const v = await until(pool, doomed, (x) => x.state === 'failed' || x.state === 'done');
    assert.equal(v.state, 'failed');
    assert.equal(v.error?.status, 503);
    assert.match(v.error!.detail, /worker running this job stopped \(SIGKILL\), also on its retry/);
    // and the pool still serves
    const after = await startJob(pool, { image: await image(), prompts: { classes: ['liver'] } });
    assert.equal((await until(pool, after, (x) => x.state === 'done' || x.state === 'failed')).state, 'done');
  });
});
