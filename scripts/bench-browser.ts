/**
 * Browser vs server, in the same run (`npm run bench:browser`; also a section of `npm run bench`): the in-browser
 * end-to-end test (extension/test/browserRun.e2e.test.ts: Orthanc, our server, OHIF in headless Chromium) on the
 * sample study, the real head CT and a 512×512×200 synthetic CT, a class prompt and a click on each, run on the
 * Server and in This browser, start to result as the panel reports it; the browser's backend named. The test
 * also checks that both give the same labels voxel for voxel.
 */
import { spawnSync } from 'node:child_process';
import { machine } from '../models/src/eval/measure.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface Row {
  series: string;
  dims: string;
  runner: string;
  prompt: string;
  where: string;
  device: string;
  ms: number;
}

export async function bench(): Promise<void> {
  console.log('\n## Browser vs server (headless Chromium, OHIF, Orthanc; bundled model): start → result, ms');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', 'extension/test/browserRun.e2e.test.ts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, VISTA3D_BENCH_LARGE: '1' }, maxBuffer: 64 << 20 });
  const rows: Row[] = [];
  const seen = new Set<string>();
  for (const m of r.stdout.matchAll(/timing: (\S+) (\S+) (server|browser|browser, server stopped) (class prompt|click): (\w+) \((\w+)\) (\d+) ms/g)) {
    if (seen.has(m[0])) continue;
    seen.add(m[0]);
    rows.push({ series: m[1], dims: m[2], runner: m[3], prompt: m[4], where: m[5], device: m[6], ms: Number(m[7]) });
  }
  if (r.status !== 0 || !rows.length) {
    console.log(`the browser bench failed (exit ${r.status}):\n${(r.stdout + r.stderr).split('\n').filter((l) => /not ok|Error|error|skip/i.test(l)).slice(0, 20).join('\n')}`);
    return;
  }
  console.log('series            prompt         server            browser               browser, server stopped   browser / server');
  for (const series of [...new Set(rows.map((x) => `${x.series} ${x.dims}`))]) {
    for (const prompt of ['class prompt', 'click']) {
      const get = (runner: string) => rows.find((x) => `${x.series} ${x.dims}` === series && x.prompt === prompt && x.runner === runner);
      const s = get('server');
      const b = get('browser');
      const o = get('browser, server stopped');
      const cell = (x?: Row) => (x ? `${x.ms} (${x.device})` : '—').padEnd(18);
      console.log(`${series.padEnd(18)}${prompt.padEnd(15)}${cell(s)}${cell(b)}    ${cell(o)}        ${s && b ? (b.ms / s.ms).toFixed(2) : '—'}`);
    }
  }
  console.log('(browser: the first run on a series includes sending its voxels to the worker and, on the first series, loading the model; "server stopped": after reloading the model from Cache Storage)');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`# vista3d-ohif browser bench — ${new Date().toISOString()}\nmachine: ${machine()}`);
  await bench();
}
