#!/usr/bin/env node
// The project's one test command (`npm test`): fetches the real test data (Debian packages), type-checks,
// then runs every `*.test.ts` under the workspaces with Node's built-in test runner (its summary is what CI reads).
// Pass file or folder names to run a subset: `npm test -- models/src/io`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDeps } from './ensure-deps.mjs';
import { buildPlugins } from './build-plugins.mjs';
import { ensureViewer } from './fetch-viewer.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const roots = args.length ? args : ['models', 'server', 'extension', 'mode'];

function collect(path, out) {
  const st = statSync(join(root, path), { throwIfNoEntry: false });
  if (!st) throw new Error(`no such test path: ${path}`);
  if (st.isFile()) { if (path.endsWith('.test.ts')) out.push(path); return out; }
  for (const name of readdirSync(join(root, path)).sort()) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    collect(join(path, name), out);
  }
  return out;
}

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

ensureDeps();
ensureViewer();
await buildPlugins({ quiet: true });
run('bash', ['scripts/install-system-deps.sh']);
run('bash', ['scripts/install-training-deps.sh']);
run('bash', ['scripts/fetch-test-data.sh']);
if (!args.length) run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
const files = roots.flatMap((r) => collect(r, []));
if (!files.length) { console.error('no test files found'); process.exit(1); }
run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files]);
