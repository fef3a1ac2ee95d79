/**
 * A real scale-out deployment for tests: Debian's redis-server (appendonly, on a free loopback port), front ends
 * (`server/src/main.ts`) and workers (`server/src/workers/main.ts`), each its own process, all configured from one
 * environment. Processes can be killed (SIGKILL) and started again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './orthanc.ts';

export const REDIS_BINARY = '/usr/bin/redis-server';
const SERVER_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../src/workers/main.ts', import.meta.url));

export function redisMissing(): string | null {
  return existsSync(REDIS_BINARY) ? null : `${REDIS_BINARY} is missing: run scripts/install-system-deps.sh (Debian's redis-server)`;
}

export interface Proc {
  proc: ChildProcess;
  /** What it wrote to stdout and stderr (its log). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-200_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-200_000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    output: () => out,
    kill: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

async function until(what: string, ok: () => Promise<boolean>, ms: number, log: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await ok().catch(() => false))) {
    if (Date.now() - t0 > ms) throw new Error(`${what} did not come up in ${ms} ms:\n${log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningRedis {
  url: string;
  port: number;
  proc: Proc;
  /** Starts it again on the same port and data folder (after a kill): what it had persisted comes back. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** redis-server with its append-only file fsynced on every write: a SIGKILL loses nothing acknowledged. */
export async function startRedis(): Promise<RunningRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--protected-mode', 'yes'];
  const { Redis } = await import('ioredis');
  const ping = async () => {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } finally {
      c.disconnect();
    }
  };
  const r: RunningRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc: run(REDIS_BINARY, args, process.env),
    restart: async () => {
      await r.proc.kill('SIGKILL');
      r.proc = run(REDIS_BINARY, args, process.env);
      await until('redis-server', ping, 10_000, r.proc.output);
    },
    close: async () => {
      await r.proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  await until('redis-server', ping, 10_000, r.proc.output);
  return r;
}

export interface FrontEnd extends Proc {
  url: string;
  port: number;
}

/** A front end (`npm start`'s server) as its own process on `port` (a free one by default), once ready. */
export async function startFrontEnd(env: Record<string, string>, port?: number): Promise<FrontEnd> {
  const p = port ?? (await freePort());
  const proc = run(process.execPath, ['--import', 'tsx', SERVER_MAIN], { ...process.env, ...env, NIM_HTTP_API_PORT: String(p), HOST: '127.0.0.1' });
  const url = `http://127.0.0.1:${p}`;
  await until(`front end on ${p}`, async () => (await fetch(`${url}/v1/health/ready`)).status === 200, 60_000, proc.output);
  return { ...proc, url, port: p };
}

/** A worker (`npm run worker`) as its own process; resolves once it has said it is ready. */
export async function startWorker(env: Record<string, string>, name: string): Promise<Proc> {
  const proc = run(process.execPath, ['--import', 'tsx', WORKER_MAIN], { ...process.env, ...env, VISTA3D_WORKER_NAME: name });
  await until(`worker ${name}`, async () => proc.output().includes('"msg":"worker ready"'), 60_000, proc.output);
  return proc;
}
