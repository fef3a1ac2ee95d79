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

/** A voxel of `label` nearest to the label's centroid (a click inside the structure). */
function clickInside(labels: Uint8Array, dims: readonly number[], label: number): [number, number, number] {
  let n = 0;
  const sum = [0, 0, 0];
  for (let o = 0; o < labels.length; o++) {
    if (labels[o] !== label) continue;
    const i = o % dims[0];
    const j = Math.floor(o / dims[0]) % dims[1];
    const k = Math.floor(o / (dims[0] * dims[1]));
    sum[0] += i;
    sum[1] += j;
    sum[2] += k;
    n++;
  }
  let best: [number, number, number] = [0, 0, 0];
  let bestD = Infinity;
  const c = sum.map((s) => s / n);
  for (let o = 0; o < labels.length; o++) {
    if (labels[o] !== label) continue;
    const p: [number, number, number] = [o % dims[0], Math.floor(o / dims[0]) % dims[1], Math.floor(o / (dims[0] * dims[1]))];
    const d = (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2;
    if (d < bestD) (bestD = d), (best = p);
  }
  return best;
}

/**
 * Issue 10's figures on a clinical-size CT (a 512×512×250 phantom at 0.78×0.78×1.5 mm) with the bundled model:
 * what a click costs the server now (local point pass, the region result) against the full-volume path it replaced
 * (the same click's result made whole and gzipped, measured in the same run), class prompts with the model-space
 * image prepared vs not, and the NIM endpoint's share of encoding.
 */
export async function benchInteractive(): Promise<void> {
  const { generatePhantom } = await import('../models/src/phantom/index.ts');
  const { Vista3dPipeline } = await import('../models/src/pipeline/segment.ts');
  const { createBackend } = await import('../models/src/backend/onnxNode.ts');
  const { loadBundleFromDir } = await import('../models/src/node/files.ts');
  const { writeVolumeBytes } = await import('../models/src/io/format.ts');
  const { ImageStateStore } = await import('./src/inference/featureCache.ts');
  if (!existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) return;
  const phantom = generatePhantom({ seed: 21, dims: [512, 512, 250], spacing: [0.78, 0.78, 1.5] });
  const ct = phantom.image;
  const p = await Vista3dPipeline.create(await loadBundleFromDir(DEFAULT_MODEL_DIR), createBackend({ device: 'cpu' }));
  const store = new ImageStateStore({ featureBytes: 1024 ** 3, preparedBytes: 1024 ** 3 });
  const state = store.for(ct);
  const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;
  console.log(`\n## 6. Interactive at clinical scale: phantom ${ct.dims.join('×')} (${ct.spacing.join('×')} mm), model ${p.manifest.name}, cpu`);
  const spleen = clickInside(phantom.labels.data as Uint8Array, ct.dims, 3);
  const time = async <T>(f: () => Promise<T> | T) => {
    const t0 = performance.now();
    const r = await f();
    return { r, ms: performance.now() - t0 };
  };
  // clicks: the server's work for the viewer (segment → region) vs the old full-volume result (whole grid + gzip)
  const first = await time(() => p.segment(ct, { points: { spleen: [spleen] } }, { imageCache: state }));
  const again = await time(() => p.segment(ct, { points: { spleen: [spleen] } }, { imageCache: state }));
  const full = await time(() => writeVolumeBytes(again.r.labels, 'nifti'));
  const rd = again.r.region.hi.map((h, a) => h - again.r.region.lo[a]);
  console.log(`click (spleen), first: ${ms(first.ms)} (${first.r.timings.windows} windows, inside ONNX Runtime ${ms(first.r.timings.runtimeMs)}); again, features cached: ${ms(again.ms)} (inside ONNX Runtime ${ms(again.r.timings.runtimeMs)})`);
  console.log(`  result for the viewer: region ${rd.join('×')} (${(again.r.region.data.length / 1e6).toFixed(2)} M voxels of ${(ct.data.length / 1e6).toFixed(1)} M); the full-volume result it replaced costs ${ms(full.ms)} more to build and gzip (×${((again.ms + full.ms) / again.ms).toFixed(2)} of the click)`);
  // class prompts: the first on an image (whole-volume pre-processing, every encoder window) vs the next one
  // (the prepared model-space image and the features are the server's per-image state)
  const cold = await time(() => p.segment(ct, { classes: ['liver'] }, { imageCache: state }));
  const warm = await time(() => p.segment(ct, { classes: ['liver', 'spleen'] }, { imageCache: state }));
  console.log(`class prompt, first on the image (liver): ${ms(cold.ms)} (pre-processing ${ms(cold.r.timings.preprocessMs)}, ${cold.r.timings.windows} windows); the next (liver + spleen): ${ms(warm.ms)} (pre-processing ${ms(warm.r.timings.preprocessMs)}; ×${(warm.ms / cold.ms).toFixed(2)})`);
  // the NIM endpoint's encoding: the full result as <stem>_seg.nii.gz, against the whole request's work
  const enc = await time(() => writeVolumeBytes(cold.r.labels, 'nifti'));
  console.log(`NIM endpoint encoding (${(enc.r.length / 1e6).toFixed(2)} MB .nii.gz, native zlib, run-length): ${ms(enc.ms)} = ${((100 * enc.ms) / (cold.ms + enc.ms)).toFixed(1)} % of segmenting + encoding (goal ≤ 10 %)`);
  await p.dispose();
}

/**
 * Scheduling (part of `npm run bench`), the bundled model on cpu, caches off (every request pays its encoder):
 * a click's latency while batch jobs (NIM calls on a 512×512×250 CT) keep the device busy, with the priority queue
 * (clicks first, batch work yielding between windows) against first come first served; and throughput of class
 * prompts on two images with 1 worker (in-process, all threads) against 2 worker processes (half the threads each).
 */
export async function benchScheduling(): Promise<void> {
  if (!existsSync(join(DEFAULT_MODEL_DIR, 'model.json'))) return;
  const { generatePhantom } = await import('../models/src/phantom/index.ts');
  const { availableParallelism } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-sched-bench-'));
  const json = { 'content-type': 'application/json' };
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  try {
    await mkdir(join(dir, 'images'));
    const big = generatePhantom({ seed: 31, dims: [512, 512, 250], spacing: [0.78, 0.78, 1.5] }).image;
    await writeFile(join(dir, 'images', 'ct.nii'), writeNifti(big, { gzip: false }));
    const head = loadHeadCT();
    await writeFile(join(dir, 'images', 'head.nii'), writeNifti(head, { gzip: false }));
    const flipped = { ...head, data: head.data.slice().reverse() };
    await writeFile(join(dir, 'images', 'head2.nii'), writeNifti(flipped, { gzip: false }));
    const base = { NIM_HTTP_API_PORT: '0', MODEL_DIR: DEFAULT_MODEL_DIR, DEVICE: 'cpu', IMAGE_ROOTS: join(dir, 'images'), LOG_LEVEL: 'silent', QUEUE_DEPTH: '16', FEATURE_CACHE_BYTES: '0', PREPARED_CACHE_BYTES: '0', MAX_JOBS_PER_CLIENT: '64' };
    const nim = async (url: string, body: unknown) => {
      const t0 = performance.now();
      const r = await fetch(`${url}/v1/vista3d/inference`, { method: 'POST', headers: json, body: JSON.stringify(body) });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`bench request failed: ${r.status}`);
      return performance.now() - t0;
    };
    const job = async (url: string, body: unknown) => {
      const t0 = performance.now();
      const r = await fetch(`${url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify(body) });
      if (r.status !== 202) throw new Error(`bench job refused: ${r.status} ${await r.text()}`);
      const { id } = (await r.json()) as { id: string };
      let res: Response;
      do {
        res = await fetch(`${url}/v1/vista3d/jobs/${id}/result?format=region&wait=30`);
        await res.arrayBuffer();
      } while (res.status === 409);
      if (res.status !== 200) throw new Error(`bench job failed: ${res.status}`);
      return performance.now() - t0;
    };
    const batchBody = { image: 'ct.nii', prompts: { classes: ['liver', 'spleen', 'left kidney'] } };
    const click = { image: 'head.nii', prompts: { points: { '133': [[128, 128, 54]] } } };
    console.log(`\n## 7. Scheduling: a click while batch jobs run (2 clients sending NIM class prompts, 3 labels, on a ${big.dims.join('×')} CT), model bundled, cpu, caches off`);
    const p50: Record<string, number> = {};
    const runs = [
      { key: 'fifo', policy: 'fifo', workers: 1, what: 'priorities off (first come, first served), 1 process' },
      { key: 'priority', policy: 'priority', workers: 1, what: 'priorities on (clicks first, batch yields between windows), 1 process' },
      { key: 'workers', policy: 'priority', workers: 2, what: 'priorities on, 2 worker processes (the click\'s image on the other worker)' },
    ] as const;
    for (const run of runs) {
      const srv = await startServer(loadConfig({ ...base, QUEUE_POLICY: run.policy, NIM_HTTP_MAX_WORKERS: String(run.workers) }), { log: createLogger('silent') });
      await srv.ready;
      let stop = false;
      let batches = 0;
      const batch = async () => {
        while (!stop) {
          await nim(srv.url, batchBody);
          batches++;
        }
      };
      const running = [batch(), batch()];
      await new Promise((r) => setTimeout(r, 1500));
      const lat: number[] = [];
      for (let i = 0; i < 8; i++) {
        lat.push(await job(srv.url, click));
        await new Promise((r) => setTimeout(r, 300));
      }
      stop = true;
      await Promise.all(running);
      const alone = await job(srv.url, click);
      await srv.close();
      lat.sort((a, b) => a - b);
      p50[run.key] = percentile(lat, 0.5);
      console.log(`${run.what}: click p50 ${s(p50[run.key])}, p95 ${s(percentile(lat, 0.95))} (alone: ${s(alone)}; ${batches} batch jobs meanwhile)`);
    }
    console.log(`click p50, priorities on / off: ×${(p50.priority / p50.fifo).toFixed(2)}; 2 workers, priorities on / 1 process, priorities off: ×${(p50.workers / p50.fifo).toFixed(2)}`);

    console.log(`\n## 8. Throughput with worker processes: class prompts (3 labels) on two head CTs (${head.dims.join('×')}), 2 clients, 8 requests, caches off — baseline: 1 worker`);
    let baseline = 0;
    for (const workers of [1, 2]) {
      const srv = await startServer(loadConfig({ ...base, NIM_HTTP_MAX_WORKERS: String(workers) }), { log: createLogger('silent') });
      await srv.ready;
      const bodies = ['head.nii', 'head2.nii'].map((image) => ({ image, prompts: { classes: ['liver', 'spleen', 'left kidney'] } }));
      await Promise.all(bodies.map((b) => nim(srv.url, b))); // warm-up (and affinity: each image finds its worker)
      const t0 = performance.now();
      const lat: number[] = [];
      await Promise.all(bodies.map(async (b) => {
        for (let i = 0; i < 4; i++) lat.push(await nim(srv.url, b));
      }));
      const rpm = lat.length / ((performance.now() - t0) / 60000);
      if (workers === 1) baseline = rpm;
      await srv.close();
      lat.sort((a, b) => a - b);
      const threads = workers === 1 ? availableParallelism() : Math.max(1, Math.floor(availableParallelism() / workers));
      console.log(`${workers} worker${workers > 1 ? ' processes' : ' (in-process)'}, ${threads} thread${threads > 1 ? 's' : ''} each: ${rpm.toFixed(1)} requests/min (×${(rpm / baseline).toFixed(2)}), p50 ${s(percentile(lat, 0.5))}, p95 ${s(percentile(lat, 0.95))}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
