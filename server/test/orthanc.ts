/**
 * A real Orthanc PACS for tests (Debian `orthanc` + `orthanc-dicomweb`, installed by scripts/install-system-deps.sh):
 * started on a free loopback port with a temporary storage folder and the DICOMweb plugin, stopped by killing it
 * and waiting for the process to exit. Plus a counting HTTP proxy, to see what our server asks the PACS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMultipart, newBoundary } from '../src/dicomweb/multipart.ts';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const ORTHANC_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface RunningOrthanc {
  /** http://127.0.0.1:<port> (Orthanc's REST root). */
  url: string;
  /** The DICOMweb root: `<url>/dicom-web`. */
  dicomweb: string;
  port: number;
  /** Kills Orthanc and waits for the process to exit; removes its storage. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Why Orthanc cannot run here, or null when it can. Tests skip with this message, except with the environment
 * variable CI set, where a missing Orthanc is an error (CI runs scripts/install-system-deps.sh first).
 */
export function orthancMissing(): string | null {
  if (existsSync(ORTHANC_BINARY) && existsSync(ORTHANC_DICOMWEB_PLUGIN)) return null;
  return `Orthanc with its DICOMweb plugin is not installed (${ORTHANC_BINARY}, ${ORTHANC_DICOMWEB_PLUGIN}); run: sudo scripts/install-system-deps.sh`;
}

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts Orthanc (minimal configuration, see shared/reference/ohif-runtime.md) and waits until it answers. */
export async function startOrthanc(): Promise<RunningOrthanc> {
  const missing = orthancMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), 'vista3d-orthanc-'));
  const port = await freePort();
  const config = {
    Name: 'vista3d-test',
    StorageDirectory: join(dir, 'db'),
    IndexDirectory: join(dir, 'db'),
    HttpPort: port,
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpCompressionEnabled: false,
    Plugins: [ORTHANC_DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado' },
  };
  await writeFile(join(dir, 'orthanc.json'), JSON.stringify(config));
  const child = spawn(ORTHANC_BINARY, [join(dir, 'orthanc.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`Orthanc exited with code ${child.exitCode} before answering:\n${stderr}`);
    }
    try {
      const r = await fetch(`${url}/system`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Orthanc did not answer on ${url} within 20 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, dicomweb: `${url}/dicom-web`, port, stop };
}

/** Stores Part 10 files in Orthanc by STOW-RS (one multipart/related request); throws unless all are stored. */
export async function storeSeries(orthancUrl: string, files: readonly { bytes: Uint8Array }[]): Promise<void> {
  const boundary = newBoundary();
  const body = buildMultipart(
    files.map((f) => ({ contentType: 'application/dicom', body: f.bytes })),
    boundary,
  );
  const r = await fetch(`${orthancUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    body: new Uint8Array(body),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`STOW-RS to Orthanc answered HTTP ${r.status}: ${text.slice(0, 500)}`);
  const failed = (JSON.parse(text) as Record<string, { Value?: unknown[] }>)['00081198']?.Value ?? [];
  if (failed.length) throw new Error(`STOW-RS to Orthanc refused ${failed.length} instances: ${JSON.stringify(failed).slice(0, 500)}`);
}

export interface SeenRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface CountingProxy {
  /** http://127.0.0.1:<port>; use `${url}/dicom-web` as DICOMWEB_URL. */
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` that records every request (method, path, headers). When the target is
 * down it drops the connection, as a PACS that cannot be reached would. `answer` may answer a request itself
 * (e.g. a PACS that refuses some requests): return true when it did.
 */
export async function startCountingProxy(target: string, answer: (req: IncomingMessage, res: ServerResponse) => boolean = () => false): Promise<CountingProxy> {
  const requests: SeenRequest[] = [];
  const t = new URL(target);
  const server: Server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (answer(req, res)) return;
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
