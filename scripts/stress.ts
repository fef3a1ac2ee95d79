/**
 * `npm run stress` (issue 9): bounded load, soak and a seeded mutation fuzz of the NIfTI, NRRD and DICOM readers
 * and of request bodies, against the real server started in-process on a free loopback port with the bundled
 * model. Prints the machine, the bounds it set, one markdown table (inputs tried, rejected correctly, accepted,
 * crashes, 5xx, hangs, peak RSS, throughput, p50/p95/p99) and every finding with the input that makes it again.
 * Exit code 1 when there is a crash, an unexpected 5xx or a hang; else 0.
 *
 *   npm run stress                       # defaults: ≤ 10 minutes on 2 cores
 *   npm run stress -- --quick            # everything small: a smoke run of < 60 s
 *   npm run stress -- --seed 7 --fuzz 300 --seconds 60 --clients 1,4 --load-seconds 10 --server-every 5
 */
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelsError, readDicomSeries, readVolumeBytes } from '@vista3d/models';
import { machine } from '../models/src/eval/measure.ts';
import { buildCorpus } from './stress/corpus.ts';
import { startStressEnv, STRESS_ENV } from './stress/env.ts';
import { isAnswer, send } from './stress/http.ts';
import { load, soak } from './stress/load.ts';
import { FORMATS, fuzzReaders, mutantFor, saveInput, type Format } from './stress/readers.ts';
import { emptyRow, Findings, mib, RssSampler, table, type Row } from './stress/report.ts';
import { createRng } from './stress/rng.ts';
import { fuzzBodies, fuzzServerImages, type ServerPartContext } from './stress/serverFuzz.ts';

const USAGE = `usage: npm run stress -- [--quick] [--seed N] [--fuzz N] [--seconds S] [--clients 1,4,16] [--load-seconds S] [--server-every K]
  --seed N          seed of every mutation and mix (default 1): the same seed, the same inputs
  --fuzz N          mutants per format for the readers (NIfTI .nii, .nii.gz, NRRD, DICOM) and request bodies (default 1000)
  --server-every K  one reader mutant in K is also sent through the server (default 10)
  --clients LIST    concurrent clients of the load steps (default 1,4,16)
  --load-seconds S  length of each load step (default 15)
  --seconds S       soak length, at most 600 (default 270, shortened so that the whole run stays within 10 minutes)
  --quick           everything small (fuzz 40, 1 in 4 to the server, clients 1,4 for 4 s, soak 10 s): < 60 s
  --repro F:I       only read mutant I of format F (nii, nii.gz, nrrd, dicom) of --seed in-process, print its operations and
                    the reader's answer (stack included), save it under the findings folder; no server`;

interface Options {
  seed: number;
  fuzz: number;
  serverEvery: number;
  clients: number[];
  loadSeconds: number;
  soakSeconds: number;
  soakExplicit: boolean;
  settleS: number;
  quick: boolean;
  repro: { format: Format; index: number } | null;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      seed: { type: 'string' },
      fuzz: { type: 'string' },
      seconds: { type: 'string' },
      clients: { type: 'string' },
      'load-seconds': { type: 'string' },
      'server-every': { type: 'string' },
      repro: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const q = values.quick;
  const num = (name: string, v: string | undefined, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${JSON.stringify(v)}: expected an integer from ${min} to ${max}\n${USAGE}`);
    return n;
  };
  const clients = (values.clients ?? (q ? '1,4' : '1,4,16')).split(',').map((c) => num('clients', c.trim(), 1, 1, 64));
  return {
    seed: num('seed', values.seed, 1, 0, 2 ** 32 - 1),
    fuzz: num('fuzz', values.fuzz, q ? 40 : 1000, 1, 1_000_000),
    serverEvery: num('server-every', values['server-every'], q ? 4 : 10, 1, 1_000_000),
    clients,
    loadSeconds: num('load-seconds', values['load-seconds'], q ? 4 : 15, 1, 600),
    soakSeconds: num('seconds', values.seconds, q ? 10 : 270, 1, 600),
    soakExplicit: values.seconds !== undefined,
    settleS: q ? 3 : 10,
    quick: q,
    repro: values.repro === undefined ? null : parseRepro(values.repro),
  };
}

function parseRepro(v: string): { format: Format; index: number } {
  const m = /^(nii|nii\.gz|nrrd|dicom):(\d+)$/.exec(v);
  if (!m) throw new Error(`--repro ${JSON.stringify(v)}: expected FORMAT:INDEX, e.g. dicom:98 (formats ${FORMATS.join(', ')})\n${USAGE}`);
  return { format: m[1] as Format, index: Number(m[2]) };
}

/** `--repro F:I`: one mutant, read in-process with the run's limits; exit 1 when the reader crashes. */
async function repro(seed: number, r: { format: Format; index: number }): Promise<number> {
  const m = mutantFor(buildCorpus(), createRng(seed), r.format, r.index);
  console.log(`seed ${seed}, ${r.format} mutant #${r.index}: ${m.ops.join('; ')}`);
  const saved = await saveInput(join(tmpdir(), `vista3d-stress-findings-seed${seed}`), 'repro', m);
  console.log(`saved: ${saved}`);
  const limits = { maxVoxels: Number(STRESS_ENV.MAX_VOXELS), maxDecompressedBytes: Number(STRESS_ENV.MAX_DECOMPRESSED_BYTES) };
  try {
    const v = m.format === 'dicom' ? readDicomSeries(m.files, { limits }) : readVolumeBytes(m.bytes, m.name, { limits });
    console.log(`accepted: ${v.dims.join('×')} voxels, spacing ${v.spacing.join(', ')}, origin ${v.origin.join(', ')}`);
    return 0;
  } catch (e) {
    if (e instanceof ModelsError) {
      console.log(`rejected (${e.code}): ${e.message}`);
      return 0;
    }
    console.log(`CRASH: ${e instanceof Error ? e.stack : `a thrown ${typeof e}: ${String(e)}`}`);
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const started = performance.now();
  const o = options(argv);
  if (o.repro) return repro(o.seed, o.repro);
  const elapsed = () => (performance.now() - started) / 1000;
  const say = (s: string) => console.log(`[${elapsed().toFixed(0).padStart(3)} s] ${s}`);
  console.log(`# vista3d-ohif stress — ${new Date().toISOString()}\nmachine: ${machine()}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`options: seed ${o.seed}, fuzz ${o.fuzz} per format, 1 in ${o.serverEvery} to the server, clients ${o.clients.join(',')} × ${o.loadSeconds} s, soak ${o.soakSeconds} s${o.quick ? ' (--quick)' : ''}`);
  console.log(`bounds set for the run: ${Object.entries(STRESS_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`);

  const findings = new Findings();
  const rss = new RssSampler();
  const rows: Row[] = [];
  const processRow = emptyRow('process: uncaught exceptions / rejections');
  const onUncaught = (e: unknown) => {
    processRow.crashes++;
    const err = e instanceof Error ? e : new Error(String(e));
    findings.add({ part: processRow.part, kind: 'crash', signature: `${err.name}: ${err.message.slice(0, 120)}`, input: '(not tied to one input: happened during the run)', detail: (err.stack ?? '').split('\n').slice(0, 8).join('\n') });
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);

  const saveDir = join(tmpdir(), `vista3d-stress-findings-seed${o.seed}`);
  await rm(saveDir, { recursive: true, force: true });
  const rng = createRng(o.seed);
  const corpus = buildCorpus();
  say(`corpus: ${corpus.nifti.length} NIfTI, ${corpus.nrrd.length} NRRD, ${corpus.dicom.length} DICOM series (${corpus.dicom[0].files.length} slices) of a ${corpus.volume.dims.join('×')} phantom`);
  const env = await startStressEnv(say);
  let soakResult: Awaited<ReturnType<typeof soak>> | null = null;
  try {
    const info = await send(env.base, { method: 'GET', path: '/v1/vista3d/info', timeoutMs: 10_000 });
    const labels = isAnswer(info) ? Object.keys((JSON.parse(info.body.toString('utf8')) as { labels: Record<string, number> }).labels) : [];
    for (const l of ['liver', 'spleen', 'aorta']) if (!labels.includes(l)) throw new Error(`the bundled model has no label ${l}: the stress requests need it (labels: ${labels.join(', ')})`);
    const ctx: ServerPartContext = { env, corpus, seed: o.seed, rng, findings, rss, saveDir };
    const limits = { maxVoxels: env.config.limits.maxVoxels, maxDecompressedBytes: env.config.limits.maxDecompressedBytes };

    say(`(a) readers: ${o.fuzz} mutants of each format in a worker (hang: no answer in 5 s)`);
    const readers = await fuzzReaders({ corpus, seed: o.seed, rng, perFormat: o.fuzz, limits, hangMs: 5000, budgetS: o.quick ? 20 : 45, findings, rss, saveDir });
    rows.push(...readers.rows);
    say(`(b) server: 1 in ${o.serverEvery} of those mutants, and the ${readers.failed.length} that crashed or hung a reader, through POST /v1/vista3d/inference`);
    rows.push(await fuzzServerImages(ctx, { perFormat: o.fuzz, every: o.serverEvery, budgetS: o.quick ? 20 : 100, hangMs: 60_000, failed: readers.failed }));
    say(`(c) server: ${o.fuzz} request bodies to /v1/vista3d/inference and /v1/vista3d/jobs`);
    rows.push(await fuzzBodies(ctx, { cases: o.fuzz, budgetS: o.quick ? 15 : 60, hangMs: 30_000, slow: !o.quick }));
    const beforeLoad = rss.sample();
    for (const c of o.clients) {
      say(`load: ${c} client(s) for ${o.loadSeconds} s`);
      rows.push(await load(ctx, c, o.loadSeconds, 120_000));
    }
    // the default soak fits what is left of 10 minutes (an explicit --seconds is kept)
    const left = Math.floor(600 - elapsed() - o.settleS - 15);
    const seconds = o.soakExplicit ? o.soakSeconds : Math.max(10, Math.min(o.soakSeconds, left));
    say(`soak: 4 clients, a mix of valid and invalid requests, for ${seconds} s; RSS every second (before the load steps: ${mib(beforeLoad)})`);
    soakResult = await soak(ctx, { seconds, clients: 4, hangMs: 120_000, settleS: o.settleS });
    rows.push(soakResult.row);
  } finally {
    await env.close();
    rss.stop();
  }
  if (processRow.crashes) rows.push(processRow);

  console.log(`\n## Results (seed ${o.seed}, ${elapsed().toFixed(0)} s)\n`);
  console.log(table(rows));
  console.log('\nrejected correctly: a ModelsError from a reader, or a 4xx with a JSON {detail} from the server; shed: 503 with Retry-After');
  console.log('(queue or job store full, expected under overload); injected 5xx: 502/504 for an image host that answers 500 or never;');
  console.log('odd: 4xx without {detail}, a valid request refused, or an accepted image with impossible geometry (see findings).');
  console.log('throughput: readers and fuzz rows count inputs per minute, the soak requests of every kind per minute, load rows answered');
  console.log('(200) requests per minute; latencies: load rows and the soak the accepted requests (a soak job from POST to its result),');
  console.log('fuzz rows every answer.');
  if (soakResult) {
    const bounds = Number(STRESS_ENV.FEATURE_CACHE_BYTES) + Number(STRESS_ENV.SERIES_CACHE_BYTES) + Number(STRESS_ENV.MAX_CONCURRENT_LOADS) * Number(STRESS_ENV.MAX_DOWNLOAD_BYTES);
    const { baseline, peak, after } = soakResult;
    const near = after <= baseline + Number(STRESS_ENV.FEATURE_CACHE_BYTES) + Number(STRESS_ENV.SERIES_CACHE_BYTES) + 64 * 1024 ** 2;
    console.log(`\n## Memory (RSS of this process: server, image host and clients)`);
    console.log(`before the soak ${mib(baseline)}; peak during it ${mib(peak)} (growth ${mib(peak - baseline)}); ${o.settleS} s after it ended ${mib(after)}; peak of the whole run ${mib(rss.peak)}`);
    console.log(`configured bounds: FEATURE_CACHE_BYTES ${mib(Number(STRESS_ENV.FEATURE_CACHE_BYTES))} + SERIES_CACHE_BYTES ${mib(Number(STRESS_ENV.SERIES_CACHE_BYTES))} + MAX_CONCURRENT_LOADS × MAX_DOWNLOAD_BYTES ${STRESS_ENV.MAX_CONCURRENT_LOADS} × ${mib(Number(STRESS_ENV.MAX_DOWNLOAD_BYTES))} = ${mib(bounds)}`);
    console.log(`  (plus the one running inference's working set, bounded by MAX_MODEL_VOXELS=${STRESS_ENV.MAX_MODEL_VOXELS}, and decoded images, MAX_DECOMPRESSED_BYTES=${mib(Number(STRESS_ENV.MAX_DECOMPRESSED_BYTES))} each)`);
    console.log(`peak growth ${peak - baseline <= bounds ? 'within' : 'OVER'} the configured bounds; after the burst RSS ${near ? 'returned near' : 'did NOT return near'} the baseline (allowance: the two caches + 64 MiB)`);
  }

  const all = findings.all;
  console.log(`\n## Findings (${all.length} distinct; inputs saved under ${saveDir} when there were any)`);
  for (const f of all.sort((a, b) => ['crash', '5xx', 'hang', 'reset', 'odd'].indexOf(a.kind) - ['crash', '5xx', 'hang', 'reset', 'odd'].indexOf(b.kind))) {
    console.log(`\n- [${f.kind}] ${f.part} — ${f.times}× — ${f.signature}\n  input: ${f.input}${f.saved ? `\n  saved: ${f.saved}` : ''}\n  ${f.detail.split('\n').join('\n    ')}`);
  }
  const total = (k: 'crashes' | 'fiveXX' | 'hangs') => rows.reduce((n, r) => n + r[k], 0);
  const failed = total('crashes') + total('fiveXX') + total('hangs');
  console.log(`\n${failed ? 'FAIL' : 'PASS'}: ${total('crashes')} crashes, ${total('fiveXX')} unexpected 5xx, ${total('hangs')} hangs`);
  return failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.stack : e);
      process.exit(2);
    },
  );
}
