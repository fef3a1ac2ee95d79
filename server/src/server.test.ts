import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeNifti } from '@vista3d/models';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { ImageSource } from './images/imageSource.ts';
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
    const app = createApp({ config, log: createLogger('silent'), metrics: createMetrics(), images: new ImageSource(config), service: () => undefined, state: { ready: false, shuttingDown: false }, version: '0' });
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
      const inf = await fetch(`${url}/v1/vista3d/inference`, { method: 'POST', body: JSON.stringify({ image: 'x.nii.gz' }) });
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
