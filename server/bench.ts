/**
 * Server throughput on the real head CT (part of `npm run bench`): requests per minute with 1 and with 4
 * concurrent clients, p50/p95 latency. Baseline: 1 client. Uses the bundled model when present, else the
 * Conv3d bench model of models/test/support.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNifti } from '../models/src/io/nifti.ts';
import { convBundle } from '../models/test/support/convBundle.ts';
import { loadHeadCT } from '../models/test/support/realData.ts';
import { writeBundleDir } from '../models/test/support/testBundles.ts';
import { DEFAULT_MODEL_DIR, loadConfig } from './src/config.ts';
import { createLogger } from './src/logger.ts';
import { startServer } from './src/server.ts';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export async function bench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-server-bench-'));
  try {
    await mkdir(join(dir, 'images'));
    await writeFile(join(dir, 'images', 'head.nii.gz'), writeNifti(loadHeadCT()));
    let modelDir = DEFAULT_MODEL_DIR;
    if (!existsSync(join(modelDir, 'model.json'))) {
      modelDir = join(dir, 'model');
      await writeBundleDir(modelDir, convBundle({ roi: 64, channels: 8, layers: 3 }));
    }
    // throughput without the feature cache: every request runs the encoder, as on a new image
    const env = { NIM_HTTP_API_PORT: '0', MODEL_DIR: modelDir, DEVICE: 'cpu', IMAGE_ROOTS: join(dir, 'images'), LOG_LEVEL: 'silent', QUEUE_DEPTH: '16' };
    const s = await startServer(loadConfig({ ...env, FEATURE_CACHE_BYTES: '0' }), { log: createLogger('silent') });
    await s.ready;
    const model = ((await (await fetch(`${s.url}/v1/vista3d/info`)).json()) as { model: { name: string }; everything: number[] });
    const body = JSON.stringify({ image: 'head.nii.gz', prompts: { classes: model.everything.slice(0, 3) } });
    const request = async (url: string, payload: string) => {
      const t0 = performance.now();
      const r = await fetch(`${url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`bench request failed: ${r.status}`);
      return performance.now() - t0;
    };
    const one = () => request(s.url, body);
    await one(); // warm-up
    console.log(`\n## 4. Server throughput, head CT, model ${model.model.name}, class prompts (3 labels) — baseline: 1 client`);
    let baseline = 0;
    for (const clients of [1, 4]) {
      const perClient = clients === 1 ? 4 : 2;
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, async () => {
        for (let i = 0; i < perClient; i++) latencies.push(await one());
      }));
      const minutes = (performance.now() - t0) / 60000;
      const rpm = latencies.length / minutes;
      if (clients === 1) baseline = rpm;
      latencies.sort((a, b) => a - b);
      console.log(
        `${clients} client${clients > 1 ? 's' : ' '}: ${rpm.toFixed(1)} requests/min (×${(rpm / baseline).toFixed(2)} of 1 client), p50 ${(percentile(latencies, 0.5) / 1000).toFixed(2)} s, p95 ${(percentile(latencies, 0.95) / 1000).toFixed(2)} s (${latencies.length} requests)`,
      );
    }
    await s.close();

    // the next click on the same image: the encoder's features come from the cache (FEATURE_CACHE_BYTES default)
    const c = await startServer(loadConfig(env), { log: createLogger('silent') });
    await c.ready;
    const click = (i: number) => JSON.stringify({ image: 'head.nii.gz', prompts: { points: { '133': [[128 + i, 128, 54]] } } });
    const cold = await request(c.url, click(0));
    const warm: number[] = [];
    for (let i = 1; i <= 4; i++) warm.push(await request(c.url, click(i)));
    warm.sort((a, b) => a - b);
    console.log(`\n## 5. A click on the same image again (point prompt, head CT) — baseline: the first click, encoder run`);
    console.log(`first click ${(cold / 1000).toFixed(2)} s; next clicks, features cached: median ${(percentile(warm, 0.5) / 1000).toFixed(2)} s (×${(percentile(warm, 0.5) / cold).toFixed(2)} of the first)`);
    await c.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
