/**
 * Part (a): the seeded mutants of every format read in-process by the models package's readers, one at a time
 * in a worker thread. Accepted, rejected with a ModelsError (correct), crash (any other exception), or hang
 * (no answer within the time limit: the worker is terminated and a fresh one takes the next input).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ReadLimits } from '@vista3d/models';
import type { Corpus, NamedBytes } from './corpus.ts';
import { mutateDicomSeries } from './dicomMutate.ts';
import { mutateNifti, mutateNrrd } from './mutate.ts';
import { count, emptyRow, errorSignature, type Findings, type Row, type RssSampler } from './report.ts';
import type { Rng } from './rng.ts';
import type { ReadRequest, ReadResult } from './readerWorker.ts';

export const FORMATS = ['nii', 'nii.gz', 'nrrd', 'dicom'] as const;
export type Format = (typeof FORMATS)[number];
const LABEL: Record<Format, string> = { nii: 'NIfTI .nii', 'nii.gz': 'NIfTI .nii.gz', nrrd: 'NRRD', dicom: 'DICOM series' };

export type MutantInput = ({ format: Exclude<Format, 'dicom'>; name: string; bytes: Uint8Array } | { format: 'dicom'; name: string; files: NamedBytes[] }) & {
  index: number;
  /** Base file and operations: with the seed, enough to make it again. */
  ops: string[];
};

/** Mutant `index` of `format`: depends only on the seed, the format and the index. */
export function mutantFor(corpus: Corpus, rng: Rng, format: Format, index: number): MutantInput {
  const r = rng.fork('mutant', format, index);
  if (format === 'dicom') {
    const base = r.pick(corpus.dicom);
    const m = mutateDicomSeries(base.files, r);
    return { format, name: `m${index}`, files: m.files, index, ops: [`base ${base.name}`, ...m.ops] };
  }
  if (format === 'nrrd') {
    const base = r.pick(corpus.nrrd);
    const m = mutateNrrd(base.bytes, r);
    return { format, name: `m${index}.nrrd`, bytes: m.bytes, index, ops: [`base ${base.name}`, ...m.ops] };
  }
  if (format === 'nii.gz' && index === 3) return { format, name: `m${index}.nii.gz`, bytes: corpus.bomb, index, ops: ['gzip bomb: a NIfTI header and 64 MiB of zeros'] };
  const base = r.pick(corpus.nifti);
  const m = mutateNifti(base.bytes, r, format === 'nii.gz');
  return { format, name: `m${index}.${format}`, bytes: m.bytes, index, ops: [`base ${base.name}`, ...m.ops] };
}

/** Saves an input that made a finding, for reproduction; returns where. */
export async function saveInput(dir: string, tag: string, m: MutantInput): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (m.format === 'dicom') {
    const folder = join(dir, `${tag}-dicom-${m.index}`);
    await mkdir(folder, { recursive: true });
    for (const f of m.files) await writeFile(join(folder, f.name.replace(/[^\w.-]/g, '_')), f.bytes);
    return folder;
  }
  const path = join(dir, `${tag}-${m.name}`);
  await writeFile(path, m.bytes);
  return path;
}

/** One worker thread running readerWorker.ts (TypeScript through tsx's loader). */
class ReaderWorker {
  private worker!: Worker;
  private ready!: Promise<void>;
  private pending: ((r: ReadResult) => void) | null = null;
  constructor() {
    this.spawn();
  }
  private spawn(): void {
    const url = new URL('./readerWorker.ts', import.meta.url).href;
    this.worker = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, { eval: true });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.on('message', (m: ReadResult | { ready: true }) => {
        if ('ready' in m) resolve();
        else this.pending?.(m);
      });
    });
  }
  /** The reader's result, or 'hang' after `timeoutMs` (the worker is then replaced). */
  async read(r: ReadRequest, timeoutMs: number): Promise<ReadResult | 'hang'> {
    await this.ready;
    return new Promise((resolve) => {
      const timer = setTimeout(async () => {
        this.pending = null;
        await this.worker.terminate();
        this.spawn();
        resolve('hang');
      }, timeoutMs);
      this.pending = (res) => {
        clearTimeout(timer);
        this.pending = null;
        resolve(res);
      };
      this.worker.postMessage(r);
    });
  }
  close(): Promise<number> {
    return this.worker.terminate();
  }
}

export interface ReaderFuzzOptions {
  corpus: Corpus;
  seed: number;
  rng: Rng;
  perFormat: number;
  limits: ReadLimits;
  hangMs: number;
  /** Time budget of the whole part (s): formats share it equally. */
  budgetS: number;
  findings: Findings;
  rss: RssSampler;
  saveDir: string;
}

/** The rows per format, and the mutants that crashed or hung a reader (part (b) sends each through the server too). */
export async function fuzzReaders(o: ReaderFuzzOptions): Promise<{ rows: Row[]; failed: { format: Format; index: number }[] }> {
  const worker = new ReaderWorker();
  const rows: Row[] = [];
  const failed: { format: Format; index: number }[] = [];
  try {
    for (const format of FORMATS) {
      const row = emptyRow(`(a) readers: ${LABEL[format]}`);
      const t0 = o.rss.mark();
      const deadline = t0 + (o.budgetS * 1000) / FORMATS.length;
      for (let i = 0; i < o.perFormat; i++) {
        if (performance.now() > deadline) {
          row.note = `time budget: ${i} of ${o.perFormat}`;
          break;
        }
        const m = mutantFor(o.corpus, o.rng, format, i);
        const req: ReadRequest = m.format === 'dicom' ? { id: i, kind: 'dicom', files: m.files, limits: o.limits } : { id: i, kind: 'volume', name: m.name, bytes: m.bytes, limits: o.limits };
        const r = await worker.read(req, o.hangMs);
        const input = `--seed ${o.seed}, ${format} mutant #${i}: ${m.ops.join('; ')}`;
        if (r === 'hang') {
          count(row, 'hang');
          failed.push({ format, index: i });
          o.findings.add({ part: row.part, kind: 'hang', signature: `no answer within ${o.hangMs} ms`, input, detail: `the reader did not return within ${o.hangMs} ms`, saved: await saveInput(o.saveDir, 'hang', m) });
        } else if (r.outcome === 'accepted') {
          count(row, 'accepted');
          if (r.issue) {
            row.odd++;
            o.findings.add({ part: row.part, kind: 'odd', signature: `accepted with impossible geometry: ${r.issue.replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N')}`, input, detail: `accepted volume has ${r.issue}`, saved: await saveInput(o.saveDir, 'odd', m) });
          }
        } else if (r.outcome === 'rejected') count(row, 'rejected');
        else {
          count(row, 'crash');
          failed.push({ format, index: i });
          const saved = await saveInput(o.saveDir, 'crash', m);
          o.findings.add({ part: row.part, kind: 'crash', signature: errorSignature(r.name, r.message, r.stack), input, detail: r.stack.split('\n').slice(0, 8).join('\n'), saved });
        }
      }
      const s = (performance.now() - t0) / 1000;
      row.perMinute = (row.tried / s) * 60;
      row.peakRss = o.rss.peakSince(t0);
      rows.push(row);
    }
  } finally {
    await worker.close();
  }
  return { rows, failed };
}
