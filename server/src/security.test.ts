/**
 * The attack campaign's findings (issue 9), each as the attack that worked: every case here failed before its fix.
 * Loopback only; each server on a free port.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { writeNifti, type Volume } from '@vista3d/models';
import { hashUserLine } from './auth/users.ts';
import { makeTestEnv, startFileServer, startTestServer, type FileServer, type TestEnv } from '../test/support.ts';
import type { RunningServer } from './server.ts';

const json = { 'content-type': 'application/json' };
const cube = (n: number, spacing: number, value = 0.1): Volume<Float32Array> => ({ data: new Float32Array(n ** 3).fill(value), dims: [n, n, n], spacing: [spacing, spacing, spacing], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] });
const post = (s: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${s.url}${path}`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
const detail = async (r: Response) => ((await r.json()) as { detail: string }).detail;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('security findings (issue 9)', () => {
  let t: TestEnv;
  let host: FileServer;
  before(async () => {
    t = await makeTestEnv({ roi: [4, 4, 4], overlap: 0.5 });
    host = await startFileServer(t.served);
    await writeFile(join(t.served, 'ct.nii'), writeNifti(cube(6, 1), { gzip: false }));
    await writeFile(join(t.served, 'big.nii.gz'), writeNifti(cube(36, 1)));
    await writeFile(join(t.images, 'big.nii.gz'), writeNifti(cube(36, 1)));
    // 8³ voxels at 250 mm: a 1.4 KB file that asks for a 2 m cube
    await writeFile(join(t.served, 'tiny-huge.nii.gz'), writeNifti(cube(8, 250)));
  });
  after(async () => {
    await host?.close();
    await t?.cleanup();
  });

  it('1. an output name from the URL cannot leave local_working_dir, nor the zip entry or the header', async () => {
    const s = await startTestServer(t);
    try {
      const out = join(t.outputs, 'a', 'b');
      await mkdir(out, { recursive: true });
      // `..%2F..%2Fpwned.nii` decodes to ../../pwned.nii (the test host serves pwned.nii for it)
      await writeFile(join(t.served, 'pwned.nii'), writeNifti(cube(6, 1), { gzip: false }));
      const r = await post(s, '/v1/vista3d/inference', { image: `${host.url}/..%2F..%2Fpwned.nii`, prompts: { classes: ['liver'] }, local_working_dir: out });
      assert.equal(r.status, 200, await r.clone().text());
      assert.deepEqual(readdirSync(out), ['pwned_seg.nii']);
      assert.ok(!existsSync(join(t.outputs, 'pwned_seg.nii')) && !existsSync(join(t.outputs, 'a', 'pwned_seg.nii')));
      assert.deepEqual(Object.keys(unzipSync(new Uint8Array(await r.arrayBuffer()))), ['pwned_seg.nii']);
      // quotes and non-ASCII in the name never reach Content-Disposition
      await writeFile(join(t.served, 'a"b é.nii'), writeNifti(cube(6, 1), { gzip: false }));
      const q = await post(s, '/v1/vista3d/inference', { image: `${host.url}/${encodeURIComponent('a"b é.nii')}`, prompts: { classes: ['liver'] } });
      assert.equal(q.headers.get('content-disposition'), 'attachment; filename="a_b_seg.zip"');
    } finally {
      await s.close();
    }
  });

  it('2. a tiny file with a huge spacing is refused from its header (413 naming the limit), fast; jobs too', async () => {
    const s = await startTestServer(t, { MAX_WINDOWS: '1024' });
    try {
      const t0 = performance.now();
      const r = await post(s, '/v1/vista3d/inference', { image: `${host.url}/tiny-huge.nii.gz`, prompts: { classes: ['liver'] } });
      assert.equal(r.status, 413);
      assert.match(await detail(r), /model-space grid of 2000×2000×2000 voxels.*maxModelVoxels limit of 134217728/);
      assert.ok(performance.now() - t0 < 5000);
      // windows: 36³ at ROI 4 and overlap 0.5 is 4913 windows, over 1024
      const w = await post(s, '/v1/vista3d/inference', { image: `${host.url}/big.nii.gz`, prompts: { classes: ['liver'] } });
      assert.equal(w.status, 413);
      assert.match(await detail(w), /4913 sliding windows.*maxWindows limit of 1024/);
      const j = (await (await post(s, '/v1/vista3d/jobs', { image: `${host.url}/tiny-huge.nii.gz`, prompts: { classes: ['liver'] } })).json()) as { id: string };
      let view: { state: string; error?: { status: number; detail: string } } = { state: 'queued' };
      for (let i = 0; i < 100 && (view.state === 'queued' || view.state === 'running'); i++, await sleep(30)) view = (await (await fetch(`${s.url}/v1/vista3d/jobs/${j.id}`)).json()) as typeof view;
      assert.equal(view.state, 'failed');
      assert.equal(view.error?.status, 413);
    } finally {
      await s.close();
    }
  });

  it('2b. /v1/vista3d/jobs has the NIM endpoint\'s time limit (REQUEST_TIMEOUT_MS): a job past it fails with 504', async () => {
    const s = await startTestServer(t, { REQUEST_TIMEOUT_MS: '300' });
    try {
      const j = (await (await post(s, '/v1/vista3d/jobs', { image: 'big.nii.gz', prompts: { classes: ['liver'] } })).json()) as { id: string };
      let view: { state: string; error?: { status: number; detail: string } } = { state: 'queued' };
      for (let i = 0; i < 300 && (view.state === 'queued' || view.state === 'running'); i++, await sleep(30)) view = (await (await fetch(`${s.url}/v1/vista3d/jobs/${j.id}`)).json()) as typeof view;
      assert.equal(view.state, 'failed');
      assert.equal(view.error?.status, 504);
      assert.match(view.error!.detail, /longer than 300 ms/);
    } finally {
      await s.close();
    }
  });

  it('3. admission before loading: a full queue answers 503 before any download; loads at once are bounded', async () => {
    const s = await startTestServer(t, { QUEUE_DEPTH: '0', DOWNLOAD_TIMEOUT_MS: '1500' });
    try {
      // the one place: a request whose image never arrives
      const loading = post(s, '/v1/vista3d/inference', { image: `${host.url}/slow/a.nii.gz` });
      await sleep(200);
      const before = host.hits.length;
      const t0 = performance.now();
      const full = await post(s, '/v1/vista3d/inference', { image: `${host.url}/ct.nii` });
      assert.equal(full.status, 503);
      assert.equal(full.headers.get('retry-after'), '10');
      assert.ok(performance.now() - t0 < 1000, 'refused at once');
      assert.equal(host.hits.length, before, 'nothing was downloaded for the refused request');
      assert.equal((await loading).status, 504);
      assert.equal((await post(s, '/v1/vista3d/inference', { image: `${host.url}/ct.nii` })).status, 200, 'its place is free again');
    } finally {
      await s.close();
    }
    // one load at a time: the second image is not requested while the first is still arriving
    const s2 = await startTestServer(t, { QUEUE_DEPTH: '4', MAX_CONCURRENT_LOADS: '1', DOWNLOAD_TIMEOUT_MS: '1500' });
    try {
      const hits0 = host.hits.length;
      const a = post(s2, '/v1/vista3d/inference', { image: `${host.url}/slow/c.nii.gz` });
      await sleep(100);
      const b = post(s2, '/v1/vista3d/inference', { image: `${host.url}/ct.nii` });
      await sleep(500);
      assert.deepEqual(host.hits.slice(hits0), ['/slow/c.nii.gz']);
      assert.equal((await a).status, 504, 'the first times out');
      assert.equal((await b).status, 200, 'then the second loads');
    } finally {
      await s2.close();
    }
  });

  it('4. authentication on every route but health and the static viewer: /dicomweb, STOW, /v1; key, session, OIDC', async () => {
    const key = 'k'.repeat(32);
    const usersFile = join(t.dir, 'users.txt');
    await writeFile(usersFile, `# viewer users\n${await hashUserLine('alice', 'correct horse battery')}\n`);
    // an OIDC issuer on loopback: its JWKS, and tokens signed with its key
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    await writeFile(join(t.served, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const issuer = 'https://idp.example.org/realms/hospital';
    const token = (aud: string, exp = '5m') => new SignJWT({ preferred_username: 'bob' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience(aud).setSubject('bob-1').setIssuedAt().setExpirationTime(exp).sign(privateKey);
    const s = await startTestServer(t, { API_KEY: key, USERS_FILE: usersFile, OIDC_ISSUER: issuer, OIDC_AUDIENCE: 'vista3d', OIDC_JWKS_URL: `${host.url}/jwks.json`, SAMPLE_STUDY: 'false' });
    try {
      assert.equal((await fetch(`${s.url}/v1/health/ready`)).status, 200);
      for (const path of ['/dicomweb/studies', '/dicomweb/studies/1.2/metadata', '/v1/vista3d/info', '/v1/license', '/v1/metrics', '/auth/me']) {
        const r = await fetch(`${s.url}${path}`);
        assert.equal(r.status, 401, path);
        assert.match(await detail(r), /requires authentication/);
      }
      const stow = await fetch(`${s.url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' }, body: '--x\r\n\r\n--x--' });
      assert.equal(stow.status, 401, 'STOW without credentials stores nothing');
      const bearer = (v: string) => ({ authorization: `Bearer ${v}` });
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: bearer(key) })).status, 200);
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: bearer('x'.repeat(32)) })).status, 401);
      // OIDC: the issuer's token for our audience passes; another audience or an expired one does not
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: bearer(await token('vista3d')) })).status, 200);
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: bearer(await token('other')) })).status, 401);
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: bearer(await token('vista3d', '-1m')) })).status, 401);
      // a viewer login: the cookie opens /dicomweb and /v1; a wrong password does not
      const bad = await post(s, '/auth/login', { user: 'alice', password: 'wrong password!' });
      assert.equal(bad.status, 401);
      const login = await post(s, '/auth/login', { user: 'alice', password: 'correct horse battery' });
      assert.equal(login.status, 200);
      const setCookie = login.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /vista3d_session=[\w-]{40,}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict/);
      const cookie = setCookie.split(';')[0];
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: { cookie } })).status, 200);
      assert.deepEqual(await (await fetch(`${s.url}/auth/me`, { headers: { cookie } })).json(), { user: 'alice', kind: 'user' });
      // the viewer's pages send a browser without a session to the login page; its static files stay open
      const page = await fetch(`${s.url}/vista3d?StudyInstanceUIDs=1.2`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      assert.equal(page.status, 302);
      assert.equal(page.headers.get('location'), `/login?next=${encodeURIComponent('/vista3d?StudyInstanceUIDs=1.2')}`);
      assert.equal((await fetch(`${s.url}/login`)).status, 200);
      // logout ends the session
      assert.equal((await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { cookie } })).status, 204);
      assert.equal((await fetch(`${s.url}/dicomweb/studies`, { headers: { cookie } })).status, 401);
    } finally {
      await s.close();
    }
  });

  it('4b. in proxy mode an anonymous request never reaches the PACS (which would get DICOMWEB_AUTH)', async () => {
    const key = 'k'.repeat(32);
    const s = await startTestServer(t, { API_KEY: key, DICOMWEB_URL: `${host.url}/pacs`, DICOMWEB_AUTH: 'Basic c2VjcmV0' });
    try {
      const before = host.hits.length;
      assert.equal((await fetch(`${s.url}/dicomweb/studies`)).status, 401);
      assert.equal(host.hits.length, before);
    } finally {
      await s.close();
    }
  });

  it('5. jobs are bounded per client and in all; results stay until fetched or expired (503/429, never dropped)', async () => {
    const s = await startTestServer(t, { MAX_JOBS: '3', MAX_JOBS_PER_CLIENT: '2', RESULT_TTL_MS: '1000', RESULT_FETCHED_TTL_MS: '0', RESULT_DIR: join(t.dir, 'results') });
    try {
      const start = () => post(s, '/v1/vista3d/jobs', { image: `${host.url}/ct.nii`, prompts: { classes: ['liver'] } });
      const a = (await (await start()).json()) as { id: string };
      const b = (await (await start()).json()) as { id: string };
      const third = await start();
      assert.equal(third.status, 429);
      assert.match(await detail(third), /MAX_JOBS_PER_CLIENT/);
      for (const id of [a.id, b.id]) for (let i = 0; i < 100 && ((await (await fetch(`${s.url}/v1/vista3d/jobs/${id}`)).json()) as { state: string }).state !== 'done'; i++) await sleep(30);
      // results are files in RESULT_DIR, not label volumes in memory
      assert.equal(readdirSync(join(t.dir, 'results')).filter((f) => f.endsWith('.result')).length, 2);
      // fetched: gone right away (RESULT_FETCHED_TTL_MS=0), the place is free again
      assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/${a.id}/result`)).status, 200);
      await sleep(5);
      assert.equal((await fetch(`${s.url}/v1/vista3d/jobs/${a.id}`)).status, 404);
      assert.equal((await start()).status, 202);
      // unfetched results expire after RESULT_TTL_MS
      await sleep(1200);
      const gone = await fetch(`${s.url}/v1/vista3d/jobs/${b.id}`);
      assert.equal(gone.status, 404);
      assert.match(await detail(gone), /results expire 1 s after the job ends/);
    } finally {
      await s.close();
    }
  });

  it('6. a frame list cannot amplify a response: bounded, de-duplicated, positive integers', async () => {
    const s = await startTestServer(t, { SAMPLE_STUDY: 'torso:7', MAX_LIST_ENTRIES: '64' });
    try {
      const studies = (await (await fetch(`${s.url}/dicomweb/studies`)).json()) as Record<string, { Value: string[] }>[];
      const study = studies[0]['0020000D'].Value[0];
      const inst = ((await (await fetch(`${s.url}/dicomweb/studies/${study}/instances`)).json()) as Record<string, { Value: string[] }>[])[0];
      const base = `${s.url}/dicomweb/studies/${study}/series/${inst['0020000E'].Value[0]}/instances/${inst['00080018'].Value[0]}/frames`;
      const accept = { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' };
      const one = await fetch(`${base}/1`, { headers: accept });
      assert.equal(one.status, 200);
      const size = (await one.arrayBuffer()).byteLength;
      const dup = await fetch(`${base}/1,1,1,1`, { headers: accept });
      assert.equal(dup.status, 200);
      assert.ok(Math.abs((await dup.arrayBuffer()).byteLength - size) < 200, 'duplicates removed');
      const many = await fetch(`${base}/${Array(7000).fill(1).join(',')}`, { headers: accept });
      assert.equal(many.status, 400);
      assert.match(await detail(many), /7000 entries; at most 64/);
      for (const bad of ['0', '-1', '1.5', 'x']) assert.equal((await fetch(`${base}/${bad}`, { headers: accept })).status, 400, bad);
      const include = await fetch(`${s.url}/dicomweb/studies?includefield=${Array(100).fill('00100010').join(',')}`);
      assert.equal(include.status, 400);
      assert.equal((await fetch(`${s.url}/dicomweb/studies?limit=abc`)).status, 400);
    } finally {
      await s.close();
    }
  });

  it('7. a declared Content-Length over the limit is refused at once and the body is not read', async () => {
    const s = await startTestServer(t);
    try {
      const { port } = new URL(s.url);
      const socket = connect(Number(port), '127.0.0.1');
      const t0 = performance.now();
      let sent = 0;
      const answer = await new Promise<string>((resolve, reject) => {
        let got = '';
        socket.on('connect', () => {
          socket.write('POST /v1/vista3d/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n');
          // keep sending: the server must answer and close anyway
          const pump = setInterval(() => {
            if (socket.destroyed || !socket.writable) return clearInterval(pump);
            socket.write(Buffer.alloc(65536, 32), () => (sent += 65536));
          }, 5);
        });
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
        setTimeout(() => reject(new Error(`no answer; ${sent} bytes sent`)), 5000);
      });
      assert.match(answer, /^HTTP\/1\.1 413/);
      assert.match(answer, /over the 1048576-byte limit/);
      assert.ok(performance.now() - t0 < 3000);
    } finally {
      await s.close();
    }
  });

  it('7b. a body longer than its Content-Length gets a JSON 400 and the connection closes', async () => {
    const s = await startTestServer(t);
    try {
      const { port } = new URL(s.url);
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          // a second request line glued after the declared body, with an invalid method: the parser refuses it
          socket.write('POST /v1/vista3d/inference HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\u0001\u0002 garbage\r\n\r\n');
        });
        let got = '';
        socket.on('data', (d) => (got += d));
        socket.on('close', () => resolve(got));
        socket.on('error', () => resolve(got));
      });
      assert.match(answer, /HTTP\/1\.1 400 Bad Request\r\nContent-Type: application\/json/);
      assert.match(answer, /"detail":"the request is not valid HTTP\/1\.1/);
    } finally {
      await s.close();
    }
  });

  it('8. SIGTERM (graceful close) answers requests that are still loading their image', async () => {
    const s = await startTestServer(t);
    const r = post(s, '/v1/vista3d/inference', { image: `${host.url}/delay/600/ct.nii`, prompts: { classes: ['liver'] } });
    await sleep(150);
    const closed = s.close();
    assert.equal((await r).status, 200);
    await closed;
  });

  it('10. CSRF: non-JSON bodies are 415, cross-origin state changes 403', async () => {
    const s = await startTestServer(t);
    try {
      const text = await fetch(`${s.url}/v1/vista3d/inference`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ image: `${host.url}/ct.nii` }) });
      assert.equal(text.status, 415);
      const form = await fetch(`${s.url}/v1/vista3d/jobs`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'image=x' });
      assert.equal(form.status, 415);
      const evil = await post(s, '/v1/vista3d/jobs', { image: `${host.url}/ct.nii` }, { origin: 'https://evil.example.com' });
      assert.equal(evil.status, 403);
      assert.match(await detail(evil), /evil\.example\.com.*refused/);
      const stow = await fetch(`${s.url}/dicomweb/studies`, { method: 'POST', headers: { origin: 'null', 'content-type': 'multipart/related; type="application/dicom"; boundary=x' }, body: '--x--' });
      assert.equal(stow.status, 403);
      const own = await post(s, '/v1/vista3d/inference', { image: `${host.url}/ct.nii` }, { origin: s.url });
      assert.equal(own.status, 200);
    } finally {
      await s.close();
    }
  });

  it('11. invalid geometry is refused naming the field; a NIfTI fallback is used and said in a header', async () => {
    const s = await startTestServer(t);
    try {
      const nii = writeNifti(cube(6, 1), { gzip: false });
      const view = new DataView(nii.buffer, nii.byteOffset, nii.byteLength);
      const nan = nii.slice();
      new DataView(nan.buffer).setFloat32(80, NaN, true); // pixdim[1]
      await writeFile(join(t.served, 'nan.nii'), nan);
      const bad = await post(s, '/v1/vista3d/inference', { image: `${host.url}/nan.nii`, prompts: { classes: ['liver'] } });
      assert.equal(bad.status, 415);
      assert.match(await detail(bad), /pixdim\[1\] is NaN/);
      const noSform = nii.slice();
      new DataView(noSform.buffer).setInt16(254, 0, true); // sform_code 0: the qform (or pixdim) is the standard's fallback
      await writeFile(join(t.served, 'nosform.nii'), noSform);
      assert.equal(view.getInt16(254, true) > 0, true, 'the writer sets an sform');
      const ok = await post(s, '/v1/vista3d/inference', { image: `${host.url}/nosform.nii`, prompts: { classes: ['liver'] } });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('x-vista3d-warning') ?? '', /sform_code (is 0|and qform_code are both 0)/);
      // the viewer's jobs say the same in the job's view
      const j = (await (await post(s, '/v1/vista3d/jobs', { image: `${host.url}/nosform.nii`, prompts: { classes: ['liver'] } })).json()) as { id: string };
      let jobView: { state: string; warnings?: string[] } = { state: 'queued' };
      for (let i = 0; i < 200 && (jobView.state === 'queued' || jobView.state === 'running'); i++, await sleep(20)) jobView = (await (await fetch(`${s.url}/v1/vista3d/jobs/${j.id}`)).json()) as typeof jobView;
      assert.equal(jobView.state, 'done');
      assert.match(jobView.warnings?.join(' ') ?? '', /sform_code/);
    } finally {
      await s.close();
    }
  });

  it('12. local_working_dir that is a file or read-only is refused before inference', async () => {
    const s = await startTestServer(t);
    try {
      await writeFile(join(t.outputs, 'afile'), 'x');
      const f = await post(s, '/v1/vista3d/inference', { image: `${host.url}/ct.nii`, local_working_dir: join(t.outputs, 'afile') });
      assert.equal(f.status, 400);
      assert.match(await detail(f), /is not a folder/);
      if (process.getuid?.() !== 0) {
        await mkdir(join(t.outputs, 'ro'));
        await chmod(join(t.outputs, 'ro'), 0o555);
        const ro = await post(s, '/v1/vista3d/inference', { image: `${host.url}/ct.nii`, local_working_dir: join(t.outputs, 'ro') });
        assert.equal(ro.status, 403);
      }
    } finally {
      await s.close();
    }
  });
});
