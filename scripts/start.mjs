#!/usr/bin/env node
// `npm start`: installs the locked dependencies if needed, then runs the server (the NIM /v1 API and the
// viewer) with the bundled model, on NIM_HTTP_API_PORT (8000). Configuration: environment variables, see
// .env.example. Extra arguments are ignored.
import { spawn } from 'node:child_process';
import { ensureDeps } from './ensure-deps.mjs';
import { buildPlugins } from './build-plugins.mjs';
import { ensureViewer } from './fetch-viewer.mjs';

ensureDeps();
ensureViewer();
await buildPlugins({ quiet: true });
const root = new URL('..', import.meta.url).pathname;
const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
