/**
 * The first prompt on a series, with and without the viewer's prepare: a real PACS (Orthanc), the sample series'
 * size (torso phantom, 144×112×80 voxels, 80 DICOM slices, or BENCH_GRID; a new seed per run so no cache knows it), the bundled
 * model, our server. For each prompt kind, median of 3 series:
 *   cold:     POST /jobs, then GET …/result?format=region&wait=30 (the series is downloaded and decoded by the job);
 *   prepared: POST /prepare when the series is displayed, the click comes once it is ready, then the same.
 * Run: node --import tsx server/test/firstClick.bench.ts
 */
import { generatePhantom } from '../../models/src/phantom/index.ts';
import { writeDicomSeries } from '../../models/src/io/dicomWrite.ts';
import { DEFAULT_MODEL_DIR } from '../src/config.ts';
import { orthancMissing, startOrthanc, storeSeries } from './orthanc.ts';
import { makeTestEnv, startTestServer } from './support.ts';

const missing = orthancMissing();
if (missing) throw new Error(missing);
const orthanc = await startOrthanc();
const env = await makeTestEnv();
const server = await startTestServer(env, { DICOMWEB_URL: orthanc.dicomweb, MODEL_DIR: DEFAULT_MODEL_DIR, THREADS: '2', MAX_WINDOWS: '100000', MAX_JOBS_PER_CLIENT: '64', MAX_JOBS: '64', RESULT_FETCHED_TTL_MS: '0' });
const json = { 'content-type': 'application/json' };
let seed = 100;
/** BENCH_GRID=384x384x160 (spacing scaled to the same body): a larger series than the sample's. */
const DIMS = (process.env.BENCH_GRID ?? '144x112x80').split('x').map(Number) as [number, number, number];
const SPACING = [2.5 * (144 / DIMS[0]), 2.5 * (112 / DIMS[1]), 3 * (80 / DIMS[2])] as [number, number, number];

async function newSeries(): Promise<{ image: string; centre: number[] }> {
  const p = generatePhantom({ seed: seed++, dims: DIMS, spacing: SPACING });
  await storeSeries(orthanc.url, writeDicomSeries(p.image, { seed: `bench-${seed}`, patientId: `BENCH-${seed}` }));
  const read = (await (await fetch(`${orthanc.dicomweb}/instances?PatientID=BENCH-${seed}&limit=1`)).json()) as Record<string, { Value: string[] }>[];
  // a voxel of the spleen (label 3) for the click: its centroid
  const [nx, ny] = p.labels.dims;
  const at: number[][] = [];
  p.labels.data.forEach((v, o) => v === 3 && at.push([o % nx, Math.floor(o / nx) % ny, Math.floor(o / (nx * ny))]));
  const centre = [0, 1, 2].map((a) => Math.round(at.reduce((s, v) => s + v[a], 0) / at.length));
  return { image: `/dicomweb/studies/${read[0]['0020000D'].Value[0]}/series/${read[0]['0020000E'].Value[0]}`, centre };
}

async function prompt(image: string, prompts: unknown): Promise<number> {
  const t0 = performance.now();
  const started = await fetch(`${server.url}/v1/vista3d/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ image, prompts }) });
  if (started.status !== 202) throw new Error(`POST /jobs: ${started.status} ${await started.text()}`);
  const job = (await started.json()) as { id: string };
  const r = await fetch(`${server.url}/v1/vista3d/jobs/${job.id}/result?format=region&wait=30`, { headers: { 'accept-encoding': 'gzip' } });
  if (r.status !== 200) throw new Error(`job ${job.id}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return performance.now() - t0;
}

async function prepared(image: string): Promise<void> {
  await fetch(`${server.url}/v1/vista3d/prepare`, { method: 'POST', headers: json, body: JSON.stringify({ image }) });
  for (;;) {
    const v = (await (await fetch(`${server.url}/v1/vista3d/prepare?image=${encodeURIComponent(image)}`)).json()) as { state: string };
    if (v.state !== 'loading') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  for (const kind of ['click', 'class prompt (liver)'] as const) {
    const times = { cold: [] as number[], prepared: [] as number[] };
    for (let run = 0; run < 3; run++) {
      for (const mode of ['cold', 'prepared'] as const) {
        const s = await newSeries();
        if (mode === 'prepared') await prepared(s.image);
        times[mode].push(await prompt(s.image, kind === 'click' ? { points: { '3': [s.centre] } } : { classes: ['liver'] }));
      }
    }
    const f = (xs: number[]) => `${median(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
    console.log(`${DIMS.join('×')}: first ${kind} on a series: cold ${f(times.cold)}; prepared ${f(times.prepared)}`);
  }
} finally {
  await server.close();
  await orthanc.stop();
  await env.cleanup();
}
