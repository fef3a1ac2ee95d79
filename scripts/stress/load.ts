/**
 * Load and soak. Load: C concurrent clients send valid inference requests (a small phantom with a class prompt,
 * or a click) for a bounded time; latency of the answered ones, throughput, 503s counted as shed. Soak: a seeded
 * mix of valid requests (every image source, the jobs API), invalid bodies, image mutants, injected image-host
 * faults and GETs, while RSS is sampled every second; then RSS 10 s after the load ended vs before it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodyCase, faultCase } from './bodies.ts';
import { isAnswer, percentiles, type Req } from './http.ts';
import { FORMATS, mutantFor } from './readers.ts';
import { emptyRow, type Row } from './report.ts';
import { bodyContext, exchange, type ServerPartContext } from './serverFuzz.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

function validBody(ctx: ServerPartContext, image: string, click: boolean): string {
  const [x, y, z] = ctx.env.valid.dims.map((d) => Math.floor(d / 2));
  return JSON.stringify(click ? { image, prompts: { points: { spleen: [[x, y, z]] } } } : { image, prompts: { classes: ['liver'] } });
}

/** C clients, each sending one request after the other until `seconds` have passed (at most 10 000 each). */
export async function load(ctx: ServerPartContext, clients: number, seconds: number, hangMs: number): Promise<Row> {
  const row = emptyRow(`load: ${clients} client${clients > 1 ? 's' : ''}, ${seconds} s`);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  const t0 = ctx.rss.mark();
  const end = t0 + seconds * 1000;
  // one sequence for every level, whoever sends it: request j is image j mod 4 with a class prompt, then a click
  let next = 0;
  const client = async (c: number) => {
    for (let n = 0; n < 10_000 && performance.now() < end; n++) {
      const j = next++;
      const urls = ctx.env.valid.urls;
      const image = urls[j % urls.length];
      const click = Math.floor(j / urls.length) % 2 === 1;
      const req: Req = { path: '/v1/vista3d/inference', headers: JSON_TYPE, body: validBody(ctx, image, click), timeoutMs: hangMs, agent };
      const { answer, outcome } = await exchange(ctx, row, req, `load client ${c} request ${j}: ${click ? 'click' : 'class'} on ${image}`, { expect: 'valid' });
      if (outcome === 'accepted') latencies.push(answer.ms);
      if (outcome === 'shed') await sleep(250); // the queue is full: back off a little, then try again
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  agent.destroy();
  const s = (performance.now() - t0) / 1000;
  row.perMinute = (row.accepted / s) * 60;
  row.latency = percentiles(latencies);
  row.peakRss = ctx.rss.peakSince(t0);
  return row;
}

export interface SoakResult {
  row: Row;
  baseline: number;
  peak: number;
  /** RSS 10 s after the last request ended. */
  after: number;
}

/** Polls a job until it ends (at most `hangMs`), then fetches its result; every exchange counted. */
async function runJob(ctx: ServerPartContext, row: Row, agent: Agent, body: string, input: string, hangMs: number): Promise<number | null> {
  const start = performance.now();
  const { answer, outcome } = await exchange(ctx, row, { path: '/v1/vista3d/jobs', headers: JSON_TYPE, body, timeoutMs: hangMs, agent }, input, { expect: 'valid' });
  if (outcome !== 'accepted' || !isAnswer(answer)) return null;
  const { id } = JSON.parse(answer.body.toString('utf8')) as { id: string };
  for (let k = 0; k < 600 && performance.now() - start < hangMs; k++) {
    await sleep(100);
    const { answer: v } = await exchange(ctx, row, { method: 'GET', path: `/v1/vista3d/jobs/${id}`, timeoutMs: 10_000, agent }, `${input} (poll)`);
    if (!isAnswer(v) || v.status !== 200) return null;
    const state = (JSON.parse(v.body.toString('utf8')) as { state: string }).state;
    if (state === 'queued' || state === 'running') continue;
    const { answer: res } = await exchange(ctx, row, { method: 'GET', path: `/v1/vista3d/jobs/${id}/result`, timeoutMs: 10_000, agent }, `${input} (result, job ${state})`, { expect: state === 'done' ? 'valid' : 'either' });
    return isAnswer(res) && res.status === 200 ? performance.now() - start : null;
  }
  return null;
}

export async function soak(ctx: ServerPartContext, o: { seconds: number; clients: number; hangMs: number; settleS: number }): Promise<SoakResult> {
  const row = emptyRow(`soak: ${o.clients} clients, mixed, ${o.seconds} s`);
  const agent = new Agent({ keepAlive: true, maxSockets: o.clients });
  const c = bodyContext(ctx.env);
  const v = ctx.env.valid;
  const sources = [...v.urls, v.niiUrl, v.nrrdUrl, v.dicomPath, v.seriesPath, v.localPath];
  const latencies: number[] = [];
  const baseline = ctx.rss.sample();
  const t0 = ctx.rss.mark();
  const end = t0 + o.seconds * 1000;
  const client = async (cl: number) => {
    for (let n = 0; n < 100_000 && performance.now() < end; n++) {
      const r = ctx.rng.fork('soak', cl, n);
      const what = r.int(0, 99);
      const tag = `soak client ${cl} #${n}`;
      if (what < 35) {
        const image = r.pick(sources);
        const click = r.chance(0.4);
        const { answer, outcome } = await exchange(ctx, row, { path: '/v1/vista3d/inference', headers: JSON_TYPE, body: validBody(ctx, image, click), timeoutMs: o.hangMs, agent }, `${tag}: valid ${click ? 'click' : 'class'} on ${image}`, { expect: 'valid' });
        if (outcome === 'accepted') latencies.push(answer.ms);
      } else if (what < 45) {
        const ms = await runJob(ctx, row, agent, validBody(ctx, r.pick(sources), r.chance(0.4)), `${tag}: job`, o.hangMs);
        if (ms !== null) latencies.push(ms);
      } else if (what < 70) {
        const b = bodyCase(c, r, 0);
        await exchange(ctx, row, { path: b.path, headers: b.headers, body: b.body, chunked: b.chunked, timeoutMs: o.hangMs }, `${tag}: body ${b.label}`, b);
      } else if (what < 85) {
        const format = r.pick(FORMATS);
        const m = mutantFor(ctx.corpus, r, format, 1_000_000 + n);
        let image: string;
        let remove: () => Promise<void>;
        if (m.format === 'dicom') {
          const folder = join(ctx.env.images, `soak-${cl}-${n}`);
          await mkdir(folder);
          for (const [k, f] of m.files.entries()) await writeFile(join(folder, `${k}.dcm`), f.bytes);
          [image, remove] = [`soak-${cl}-${n}`, () => rm(folder, { recursive: true, force: true })];
        } else {
          const file = join(ctx.env.served, `soak-${cl}-${n}-${m.name}`);
          await writeFile(file, m.bytes);
          [image, remove] = [`${ctx.env.host.url}/soak-${cl}-${n}-${m.name}`, () => rm(file, { force: true })];
        }
        try {
          await exchange(ctx, row, { path: '/v1/vista3d/inference', headers: JSON_TYPE, body: JSON.stringify({ image, prompts: { classes: ['liver'] } }), timeoutMs: o.hangMs, agent }, `${tag}: ${format} mutant: ${m.ops.join('; ')}`);
        } finally {
          await remove();
        }
      } else if (what < 90) {
        const f = r.int(0, 3);
        if (f === 0) {
          const b = faultCase(c, 'status500', n);
          await exchange(ctx, row, { path: b.path, headers: b.headers, body: b.body, timeoutMs: o.hangMs, agent }, `${tag}: image host answers 500`, { allow5xx: [502] });
        } else if (f === 1) {
          const body = JSON.stringify({ image: `${ctx.env.host.url}/slow/never-${n}.nii.gz`, prompts: { classes: ['liver'] } });
          await exchange(ctx, row, { path: '/v1/vista3d/inference', headers: JSON_TYPE, body, timeoutMs: o.hangMs, agent }, `${tag}: image host never answers`, { allow5xx: [504] });
        } else {
          const body = JSON.stringify({ image: `${ctx.env.host.url}/delay/300/valid-${n % 4}.nii.gz`, prompts: { classes: ['liver'] } });
          await exchange(ctx, row, { path: '/v1/vista3d/inference', headers: JSON_TYPE, body, timeoutMs: o.hangMs, agent }, `${tag}: image host answers after 300 ms`, { expect: 'valid' });
        }
      } else {
        const path = r.pick(['/v1/health/ready', '/v1/health/live', '/v1/vista3d/info', '/v1/metrics', '/v1/openapi.json', '/v1/license', '/v1/vista3d/jobs/nonexistent', '/v1/nope', `${v.seriesPath}/metadata`]);
        await exchange(ctx, row, { method: 'GET', path, timeoutMs: 10_000, agent }, `${tag}: GET ${path}`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, cl) => client(cl)));
  agent.destroy();
  const s = (performance.now() - t0) / 1000;
  const peak = ctx.rss.peakSince(t0);
  await sleep(o.settleS * 1000);
  const after = ctx.rss.sample();
  row.perMinute = (row.tried / s) * 60;
  row.latency = percentiles(latencies);
  row.peakRss = peak;
  return { row, baseline, peak, after };
}
