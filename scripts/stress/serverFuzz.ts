/**
 * Parts (b) and (c): the server under hostile input. (b) a fraction of the reader mutants, served by the image
 * host (NIfTI, NRRD) or written under IMAGE_ROOTS (DICOM folders), sent to POST /v1/vista3d/inference;
 * (c) the seeded request bodies of bodies.ts to /v1/vista3d/inference and /v1/vista3d/jobs. Every answer must be
 * 2xx or a 4xx with a JSON {detail}, in time; a 5xx is reported with the stack the server logged for it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bodyCase, faultCase, slowBodyCase, type BodyCase, type BodyContext } from './bodies.ts';
import type { Corpus } from './corpus.ts';
import type { StressEnv } from './env.ts';
import { classify, detailOf, isAnswer, percentiles, send, type Answer, type NoAnswer, type Outcome, type Req } from './http.ts';
import { FORMATS, mutantFor, saveInput, type Format, type MutantInput } from './readers.ts';
import { count, emptyRow, errorSignature, type Findings, type Row, type RssSampler } from './report.ts';
import type { Rng } from './rng.ts';

export interface ServerPartContext {
  env: StressEnv;
  corpus: Corpus;
  seed: number;
  rng: Rng;
  findings: Findings;
  rss: RssSampler;
  saveDir: string;
}

/**
 * Sends one request, counts its outcome in `row` and records a finding for anything but a correct answer.
 * `expect` adds the check that a valid request is accepted and a surely invalid one refused.
 */
export async function exchange(
  ctx: ServerPartContext,
  row: Row,
  req: Req,
  input: string,
  opts: { allow5xx?: number[]; mayClose?: boolean; expect?: BodyCase['expect']; save?: () => Promise<string> } = {},
): Promise<{ answer: Answer | NoAnswer; outcome: Outcome }> {
  const answer = await send(ctx.env.base, req);
  const outcome = count(row, classify(answer, opts));
  const part = row.part;
  if (outcome === '5xx' && isAnswer(answer)) {
    const id = String(answer.headers['x-request-id'] ?? '');
    const logged = ctx.env.errors.get(id);
    const stack = logged?.error ?? '(no stack logged)';
    const first = stack.split('\n')[0];
    ctx.findings.add({ part, kind: '5xx', signature: `${answer.status} ${errorSignature('', first, stack)}`, input, detail: `HTTP ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}\n${stack.split('\n').slice(0, 8).join('\n')}`, saved: await opts.save?.() });
  } else if (outcome === 'hang' || outcome === 'reset') {
    const a = answer as NoAnswer;
    ctx.findings.add({ part, kind: outcome, signature: `${a.error}${a.status ? ` after status ${a.status}` : ''} on ${req.path}`, input, detail: `no answer (${a.error}) after ${a.ms.toFixed(0)} ms${a.status ? `; status line ${a.status} had arrived` : ''}`, saved: await opts.save?.() });
  } else if (outcome === 'bad4xx' && isAnswer(answer)) {
    ctx.findings.add({ part, kind: 'odd', signature: `${answer.status} without a JSON {detail} on ${req.path}`, input, detail: `HTTP ${answer.status} ${String(answer.headers['content-type'] ?? '')} ${answer.body.toString('utf8').slice(0, 120)}` });
  } else if (isAnswer(answer) && opts.expect === 'valid' && outcome === 'rejected') {
    row.odd++;
    ctx.findings.add({ part, kind: 'odd', signature: `valid request refused with ${answer.status}: ${(detailOf(answer) ?? '').replace(/"[^"]*"/g, '"…"').slice(0, 100)}`, input, detail: detailOf(answer) ?? '' });
  } else if (isAnswer(answer) && opts.expect === 'invalid' && outcome === 'accepted') {
    row.odd++;
    ctx.findings.add({ part, kind: 'odd', signature: `invalid request accepted with ${answer.status} on ${req.path}`, input, detail: answer.body.toString('utf8').slice(0, 120) });
  }
  return { answer, outcome };
}

/** Where a mutant is put for the server to fetch it, and the `image` that names it; `remove` cleans up. */
async function place(ctx: ServerPartContext, m: MutantInput): Promise<{ image: string; remove: () => Promise<void> }> {
  if (m.format === 'dicom') {
    const folder = join(ctx.env.images, `fuzz-dicom-${m.index}`);
    await mkdir(folder, { recursive: true });
    for (const [k, f] of m.files.entries()) await writeFile(join(folder, `${String(k).padStart(4, '0')}-${f.name.replace(/[^\w.-]/g, '_')}`), f.bytes);
    return { image: `fuzz-dicom-${m.index}`, remove: () => rm(folder, { recursive: true, force: true }) };
  }
  const file = join(ctx.env.served, `fuzz-${m.name}`);
  await writeFile(file, m.bytes);
  return { image: `${ctx.env.host.url}/fuzz-${m.name}`, remove: () => rm(file, { force: true }) };
}

/** The request body for a mutant: a class prompt, or (one in three) a click at voxel [1, 1, 1]. */
function mutantBody(image: string, index: number): string {
  return JSON.stringify(index % 3 === 2 ? { image, prompts: { points: { spleen: [[1, 1, 1]] } } } : { image, prompts: { classes: ['liver'] } });
}

/**
 * One reader mutant in `every` (the same inputs as part (a)), plus every mutant that crashed or hung a reader there
 * (`failed`: does the server turn it into a 5xx?), sent to POST /v1/vista3d/inference one after the other.
 */
export async function fuzzServerImages(ctx: ServerPartContext, o: { perFormat: number; every: number; budgetS: number; hangMs: number; failed: { format: Format; index: number }[] }): Promise<Row> {
  const row = emptyRow(`(b) server: image mutants (1 in ${o.every}${o.failed.length ? ` + ${o.failed.length} reader failures` : ''})`);
  const t0 = ctx.rss.mark();
  const deadline = t0 + o.budgetS * 1000;
  const latencies: number[] = [];
  const picked: { format: Format; index: number; why: string }[] = o.failed.map((f) => ({ ...f, why: ' (crashed or hung the reader in part (a))' }));
  for (let i = 0; i < o.perFormat; i += o.every) for (const format of FORMATS) if (!o.failed.some((f) => f.format === format && f.index === i)) picked.push({ format, index: i, why: '' });
  for (const { format, index: i, why } of picked) {
    if (performance.now() > deadline) {
      row.note = `time budget: ${row.tried} of ${picked.length} sent`;
      break;
    }
    const m = mutantFor(ctx.corpus, ctx.rng, format, i);
    const { image, remove } = await place(ctx, m);
    try {
      const input = `--seed ${ctx.seed}, ${format} mutant #${i}${why} as ${m.format === 'dicom' ? 'a folder under IMAGE_ROOTS' : 'a URL'}: ${m.ops.join('; ')}`;
      const { answer } = await exchange(ctx, row, { path: '/v1/vista3d/inference', headers: { 'content-type': 'application/json' }, body: mutantBody(image, i), timeoutMs: o.hangMs }, input, {
        save: () => saveInput(ctx.saveDir, 'server', m),
      });
      if (isAnswer(answer)) latencies.push(answer.ms);
    } finally {
      await remove();
    }
  }
  const s = (performance.now() - t0) / 1000;
  row.perMinute = (row.tried / s) * 60;
  row.latency = percentiles(latencies);
  row.peakRss = ctx.rss.peakSince(t0);
  return row;
}

export function bodyContext(env: StressEnv): BodyContext {
  return { imageUrl: env.valid.urls[0], dims: env.valid.dims, dicomPath: env.valid.dicomPath, localPath: env.valid.localPath, origin: env.server.url, maxBodyBytes: env.config.maxBodyBytes, hostUrl: env.host.url };
}

/** Cancels a job a valid body started (the registry stays small), and checks the cancel's answer too. */
async function cancelJob(ctx: ServerPartContext, row: Row, answer: Answer, input: string): Promise<void> {
  const id = (JSON.parse(answer.body.toString('utf8')) as { id?: string }).id;
  if (!id) return;
  const r = await send(ctx.env.base, { method: 'DELETE', path: `/v1/vista3d/jobs/${encodeURIComponent(id)}`, timeoutMs: 10_000 });
  const o = classify(r);
  if (o !== 'accepted' && o !== 'rejected') {
    count(row, o);
    ctx.findings.add({ part: row.part, kind: o === '5xx' ? '5xx' : o === 'hang' ? 'hang' : 'odd', signature: `DELETE job answered ${isAnswer(r) ? r.status : r.error}`, input, detail: isAnswer(r) ? r.body.toString('utf8').slice(0, 200) : r.error });
  }
}

export async function fuzzBodies(ctx: ServerPartContext, o: { cases: number; budgetS: number; hangMs: number; slow: boolean }): Promise<Row> {
  const row = emptyRow('(c) server: request bodies');
  const c = bodyContext(ctx.env);
  const t0 = ctx.rss.mark();
  const deadline = t0 + o.budgetS * 1000;
  const latencies: number[] = [];
  const run = async (b: BodyCase, input: string, hangMs: number) => {
    const { answer, outcome } = await exchange(ctx, row, { path: b.path, headers: b.headers, body: b.body, chunked: b.chunked, timeoutMs: hangMs }, input, b);
    if (isAnswer(answer)) latencies.push(answer.ms);
    if (outcome === 'accepted' && isAnswer(answer)) {
      if (b.path === '/v1/vista3d/jobs') await cancelJob(ctx, row, answer, input);
    }
    return answer;
  };
  // the slow body runs beside the others: the server must cut it after BODY_TIMEOUT_MS (Node checks every 30 s)
  const slow = o.slow ? run(slowBodyCase(c), 'a body that declares 1000 bytes and sends 10', 60_000) : null;
  for (let k = 0; k < 4; k++) {
    const f = faultCase(c, k % 2 ? 'missing' : 'status500', k);
    await run(f, `${f.label} (${JSON.parse(f.body as string).image})`, o.hangMs);
  }
  for (let i = 0; i < o.cases; i++) {
    if (performance.now() > deadline) {
      row.note = `time budget: ${i} of ${o.cases}`;
      break;
    }
    const b = bodyCase(c, ctx.rng, i);
    await run(b, `--seed ${ctx.seed}, body #${i} to ${b.path}: ${b.label}`, o.hangMs);
  }
  if (slow) {
    const a = await slow;
    row.note = `${row.note ? `${row.note}; ` : ''}slow body cut after ${(a.ms / 1000).toFixed(1)} s${isAnswer(a) ? ` with ${a.status}` : ` (${(a as NoAnswer).error})`}`;
  }
  const s = (performance.now() - t0) / 1000;
  row.perMinute = (row.tried / s) * 60;
  row.latency = percentiles(latencies);
  row.peakRss = ctx.rss.peakSince(t0);
  return row;
}
