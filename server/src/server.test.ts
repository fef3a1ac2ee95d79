import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNifti, writeNifti } from '@vista3d/models';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { makeTestEnv, startTestServer, type TestEnv } from '../test/support.ts';

describe('server lifecycle', () => {
  let t: TestEnv;
  before(async () => {
    t = await makeTestEnv({ roi: [4, 4, 4], overlap: 0.5 });
    // with a small ROI, large enough to take about a second: thousands of windows
    const dims: [number, number, number] = [36, 36, 36];
    await writeFile(join(t.images, 'big.nii.gz'), writeNifti({ data: new Float32Array(36 ** 3).fill(0.1), dims, spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] }));
  });
  after(() => t?.cleanup());

  it('is live but not ready until the model is loaded: 503 on ready, info and inference', async () => {
    const config = loadConfig({ NIM_HTTP_API_PORT: '0', LOG_LEVEL: 'silent' });
    const app = createApp({ config, log: createLogger('silent'), metrics: createMetrics(), engine: () => undefined, state: { ready: false, shuttingDown: false }, version: '0' });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      assert.equal((await fetch(`${url}/v1/health/live`)).status, 200);
      const ready = await fetch(`${url}/v1/health/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'not ready' });
      const info = await fetch(`${url}/v1/vista3d/info`);
      assert.equal(info.status, 503);
      assert.equal(info.headers.get('retry-after'), '5');
      const inf = await fetch(`${url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'x.nii.gz' }) });
      assert.equal(inf.status, 503);
      assert.match(((await inf.json()) as { detail: string }).detail, /still loading/);
    } finally {
      server.close();
    }
  });

  it('queues beyond one running job and answers 503 with Retry-After past QUEUE_DEPTH', async () => {
    const s = await startTestServer(t, { QUEUE_DEPTH: '1' });
    try {
      const body = JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['liver'] } });
      const send = () => fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const first = send();
      await new Promise((r) => setTimeout(r, 300)); // the first is running
      const [a, b, c] = await Promise.all([first, send(), send()]);
      const statuses = [a.status, b.status, c.status].sort();
      assert.deepEqual(statuses, [200, 200, 503]);
      const rejected = [a, b, c].find((r) => r.status === 503)!;
      assert.equal(rejected.headers.get('retry-after'), '10');
      assert.match(((await rejected.json()) as { detail: string }).detail, /busy/);
    } finally {
      await s.close();
    }
  });

  it('a client that disconnects cancels its running job; the server stays up', async () => {
    const s = await startTestServer(t);
    try {
      const ac = new AbortController();
      const req = fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['liver'] } }), signal: ac.signal });
      await new Promise((r) => setTimeout(r, 300));
      ac.abort();
      await assert.rejects(req);
      const t0 = performance.now();
      // the queue frees quickly: the cancelled job stops at its next window instead of running to the end
      const ok = await fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: [] } }) });
      assert.equal(ok.status, 200);
      assert.ok(performance.now() - t0 < 60_000);
      const metrics = await (await fetch(`${s.url}/v1/metrics`)).text();
      assert.match(metrics, /http_requests_total\{method="POST",route="\/v1\/vista3d\/inference",status="499"\} 1/);
    } finally {
      await s.close();
    }
  });

  it('jobs: progress window by window, the result as a zip or a file, cancel, 404', async () => {
    // no per-image state: the second job must run its windows again, long enough to be cancelled while it runs
    const s = await startTestServer(t, { FEATURE_CACHE_BYTES: '0', PREPARED_CACHE_BYTES: '0' });
    const json = { 'content-type': 'application/json' };
    try {
      const started = await fetch(`${s.url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['liver'] } }) });
      assert.equal(started.status, 202);
      const { id } = (await started.json()) as { id: string };
      assert.match(started.headers.get('location') ?? '', new RegExp(`/v1/vista3d/jobs/${id}$`));
      const seen: { state: string; stage: string; done: number; total: number }[] = [];
      for (;;) {
        const j = (await (await fetch(`${s.url}/v1/vista3d/jobs/${id}`)).json()) as (typeof seen)[number];
        seen.push(j);
        if (j.state === 'done' || j.state === 'failed') break;
        if (seen.length === 1) {
          const early = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result`);
          if (j.state !== 'done') assert.equal(early.status, 409);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(seen.at(-1)!.state, 'done');
      const inference = seen.filter((j) => j.stage === 'inference');
      assert.ok(inference.length >= 2, 'progress seen during inference');
      assert.ok(inference.every((j) => j.total === 4913 && j.done <= j.total));
      assert.ok(inference.some((j) => j.done > 0 && j.done < j.total), 'intermediate progress');
      const zip = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result`);
      assert.equal(zip.headers.get('content-type'), 'application/zip');
      const file = await fetch(`${s.url}/v1/vista3d/jobs/${id}/result?format=file`);
      assert.match(file.headers.get('content-disposition') ?? '', /big_seg\.nii\.gz/);
      const seg = readNifti(new Uint8Array(await file.arrayBuffer()));
      assert.ok(seg.data.every((v) => v === 1));

      const second = (await (await fetch(`${s.url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['liver'] } }) })).json()) as { id: string };
      await new Promise((r) => setTimeout(r, 300));
      const cancelled = await fetch(`${s.url}/v1/vista3d/jobs/${second.id}`, { method: 'DELETE' });
      assert.equal(cancelled.status, 200);
      let state = '';
      for (let i = 0; i < 200 && state !== 'cancelled'; i++) {
        state = ((await (await fetch(`${s.url}/v1/vista3d/jobs/${second.id}`)).json()) as { state: string }).state;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, 'cancelled');
      assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/${second.id}/result`)).status, 409);
      assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/nope`)).status, 404);
      const bad = await fetch(`${s.url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['splen'] } }) });
      assert.equal(bad.status, 422, 'prompt names are checked before the job starts');
    } finally {
      await s.close();
    }
  });

  it('shuts down gracefully: the running request finishes, then the port closes', async () => {
    const s = await startTestServer(t);
    const req = fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'big.nii.gz', prompts: { classes: ['liver'] } }) });
    await new Promise((r) => setTimeout(r, 200));
    const closed = s.close();
    assert.equal((await req).status, 200);
    await closed;
    await assert.rejects(fetch(`${s.url}/v1/health/live`));
  });
});
