/**
 * The stress run's world: a temporary folder (image root, output root, served folder, results), the real server
 * started in-process (startServer + loadConfig, the bundled model, a free loopback port, small bounds), a local
 * image host (startFileServer), the valid images every part sends, and the server's error log kept by request id
 * so that every 5xx is reported with its stack.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomSeriesWithInfo, writeNifti, writeNrrd, type Volume } from '@vista3d/models';
import { writeDicomSeries } from '../../models/src/io/dicomWrite.ts';
import { loadConfig, type Config } from '../../server/src/config.ts';
import { createLogger } from '../../server/src/logger.ts';
import { startServer, type RunningServer } from '../../server/src/server.ts';
import { startFileServer, type FileServer } from '../../server/test/support.ts';
import { smallPhantom } from './corpus.ts';
import { isAnswer, send } from './http.ts';

const MiB = 1024 ** 2;

/** The bounds the run sets (small, so that a leak or an unbounded buffer shows within minutes), printed with the results. */
export const STRESS_ENV = {
  FEATURE_CACHE_BYTES: String(32 * MiB),
  SERIES_CACHE_BYTES: String(16 * MiB),
  MAX_CONCURRENT_LOADS: '2',
  MAX_DOWNLOAD_BYTES: String(8 * MiB),
  MAX_DECOMPRESSED_BYTES: String(32 * MiB),
  MAX_VOXELS: String(2 ** 21),
  MAX_MODEL_VOXELS: String(2 ** 21),
  MAX_WINDOWS: '32',
  MAX_BODY_BYTES: String(64 * 1024),
  QUEUE_DEPTH: '8',
  DOWNLOAD_TIMEOUT_MS: '3000',
  REQUEST_TIMEOUT_MS: '60000',
  BODY_TIMEOUT_MS: '5000',
  MAX_JOBS: '64',
  MAX_JOBS_PER_CLIENT: '64',
  RESULT_TTL_MS: '2000',
  RESULT_FETCHED_TTL_MS: '0',
  DICOMWEB_STORE_BYTES: String(64 * MiB),
} as const;

export interface LoggedError {
  requestId: string;
  path: string;
  status: number;
  error: string;
}

export interface StressEnv {
  dir: string;
  images: string;
  served: string;
  server: RunningServer;
  config: Config;
  base: URL;
  host: FileServer;
  /** Server log lines at level error, by request id (5xx stacks). */
  errors: Map<string, LoggedError>;
  /** Valid inputs: URLs of small phantoms on the image host, a DICOM folder (path), a DICOMweb series (path), a local file. */
  valid: { urls: string[]; niiUrl: string; nrrdUrl: string; dicomPath: string; seriesPath: string; localPath: string; dims: [number, number, number] };
  close(): Promise<void>;
}

export async function startStressEnv(log: (line: string) => void): Promise<StressEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-stress-'));
  const images = join(dir, 'images');
  const served = join(dir, 'served');
  await Promise.all([mkdir(images), mkdir(join(dir, 'outputs')), mkdir(served), mkdir(join(dir, 'results'))]);

  const errors = new Map<string, LoggedError>();
  const logger = createLogger('error', (line) => {
    try {
      const e = JSON.parse(line) as { requestId?: string; path?: string; status?: number; error?: string; msg: string };
      errors.set(e.requestId ?? `no-request-${errors.size}`, { requestId: e.requestId ?? '', path: e.path ?? '', status: e.status ?? 0, error: e.error ?? e.msg });
    } catch {
      errors.set(`unparsed-${errors.size}`, { requestId: '', path: '', status: 0, error: line });
    }
  });
  const config = loadConfig({
    NIM_HTTP_API_PORT: '0',
    HOST: '127.0.0.1',
    DEVICE: 'cpu',
    IMAGE_ROOTS: images,
    OUTPUT_ROOTS: join(dir, 'outputs'),
    IMAGE_URI_ALLOWED_NETWORKS: '127.0.0.0/8',
    RESULT_DIR: join(dir, 'results'),
    VIEWER: 'false',
    SAMPLE_STUDY: 'false',
    SHUTDOWN_GRACE_MS: '5000',
    LOG_LEVEL: 'error',
    ...STRESS_ENV,
  });
  const host = await startFileServer(served);
  const t0 = performance.now();
  const server = await startServer(config, { log: logger });
  await server.ready;
  log(`server ready in ${((performance.now() - t0) / 1000).toFixed(1)} s at ${server.url} (model ${config.modelDir})`);
  const base = new URL(server.url);

  // valid inputs: four phantoms (the feature cache sees several images), NRRD, raw NIfTI, a DICOM folder and series
  const vols = [21, 22, 23, 24].map((s) => smallPhantom(s));
  const urls: string[] = [];
  for (const [k, v] of vols.entries()) {
    await writeFile(join(served, `valid-${k}.nii.gz`), writeNifti(v));
    urls.push(`${host.url}/valid-${k}.nii.gz`);
  }
  await writeFile(join(served, 'valid.nii'), writeNifti(vols[0], { gzip: false }));
  await writeFile(join(served, 'valid.nrrd'), writeNrrd(vols[1]));
  await writeFile(join(images, 'valid.nii.gz'), writeNifti(vols[2]));
  const dicom = writeDicomSeries(vols[3], { seed: 'stress/folder', date: new Date(Date.UTC(2024, 0, 1)) });
  await mkdir(join(images, 'valid-dicom'));
  for (const f of dicom) await writeFile(join(images, 'valid-dicom', f.name), f.bytes);
  const seriesPath = await stowSeries(base, smallPhantom(25));
  return {
    dir,
    images,
    served,
    server,
    config,
    base,
    host,
    errors,
    valid: { urls, niiUrl: `${host.url}/valid.nii`, nrrdUrl: `${host.url}/valid.nrrd`, dicomPath: 'valid-dicom', seriesPath, localPath: join(images, 'valid.nii.gz'), dims: [...vols[0].dims] },
    async close() {
      await server.close();
      await host.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Stores a phantom as a DICOM series in the embedded DICOMweb store (STOW-RS); returns its series path. */
async function stowSeries(base: URL, vol: Volume): Promise<string> {
  const files = writeDicomSeries(vol, { seed: 'stress/stow', date: new Date(Date.UTC(2024, 0, 1)) });
  const info = readDicomSeriesWithInfo(files);
  const boundary = 'stress-boundary-7f3a';
  const chunks: Buffer[] = [];
  for (const f of files) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1'), Buffer.from(f.bytes), Buffer.from('\r\n', 'latin1'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  const a = await send(base, { path: '/dicomweb/studies', headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` }, body: Buffer.concat(chunks), timeoutMs: 30_000 });
  if (!isAnswer(a) || a.status !== 200) throw new Error(`STOW-RS of the soak's series failed: ${isAnswer(a) ? `${a.status} ${a.body.toString().slice(0, 200)}` : a.error}`);
  return `/dicomweb/studies/${info.studyInstanceUid}/series/${info.seriesInstanceUid}`;
}
