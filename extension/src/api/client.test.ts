import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeNifti } from '@vista3d/models';
import { ApiError, Vista3dClient } from './client.ts';
import { EventStreamParser } from './eventStream.ts';

describe('Vista3dClient credentials', () => {
  it('sends the host login\'s Authorization header and same-origin cookies with every call', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      seen.push({ url, init });
      return new Response(JSON.stringify({ id: 'j1', state: 'queued', stage: 'queued', done: 0, total: 0 }), { status: 202, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    let token = 'Bearer t1';
    const c = new Vista3dClient('/v1', fetchImpl, () => ({ Authorization: token }));
    await c.startJob({ image: '/dicomweb/studies/1/series/2' });
    token = 'Bearer t2'; // a refreshed token is read again on the next call
    await c.job('j1');
    assert.deepEqual(seen.map((s) => (s.init?.headers as Record<string, string>).Authorization), ['Bearer t1', 'Bearer t2']);
    assert.equal((seen[0].init?.headers as Record<string, string>)['content-type'], 'application/json');
    assert.ok(seen.every((s) => s.init?.credentials === 'same-origin'));
  });

  it('a 401 tells the user to sign in again', async () => {
    const c = new Vista3dClient('/v1', (async () => new Response(JSON.stringify({ detail: 'requires authentication' }), { status: 401 })) as unknown as typeof fetch);
    await assert.rejects(c.info(), (e: ApiError) => e.status === 401 && /sign in again/.test(e.message));
  });
});

describe('EventStreamParser (text/event-stream)', () => {
  it('events split anywhere across chunks, LF / CR / CRLF line ends, comments, multi-line data, fields without a space', () => {
    const text = ': heartbeat\r\n\r\nevent: progress\r\ndata: {"a":1}\r\n\r\nevent:end\ndata: line 1\ndata:line 2\nid: 7\n\n\rdata: x\r\r\n';
    const whole = new EventStreamParser().push(text);
    assert.deepEqual(whole, [
      { event: 'progress', data: '{"a":1}' },
      { event: 'end', data: 'line 1\nline 2' },
      { event: 'message', data: 'x' },
    ]);
    for (let cut = 1; cut < text.length; cut++) {
      const p = new EventStreamParser();
      assert.deepEqual([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))], whole, `cut at ${cut}`);
    }
  });
});

describe('Vista3dClient: results as regions, job events, prepare', () => {
  const sse = (chunks: string[]) =>
    new Response(new ReadableStream({ start(c) { for (const s of chunks) c.enqueue(new TextEncoder().encode(s)); c.close(); } }), { headers: { 'content-type': 'text/event-stream' } });

  it('events(): progress to the callback, the end as the answer, over fetch with the Authorization header', async () => {
    const seen: RequestInit[] = [];
    const v = (state: string, done: number) => JSON.stringify({ id: 'j1', state, stage: 'inference', done, total: 4 });
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      seen.push(init);
      return sse([`event: progress\ndata: ${v('running', 1)}\n`, `\nevent: progress\nda`, `ta: ${v('running', 3)}\n\n: heartbeat\n\nevent: end\ndata: ${v('done', 4)}\n\n`]);
    }) as unknown as typeof fetch;
    const c = new Vista3dClient('/v1', fetchImpl, () => ({ Authorization: 'Bearer t' }));
    const progress: number[] = [];
    const end = await c.events('j1', (j) => progress.push(j.done));
    assert.deepEqual(progress, [1, 3]);
    assert.equal(end.state, 'done');
    assert.equal((seen[0].headers as Record<string, string>).Authorization, 'Bearer t');
    assert.equal((seen[0].headers as Record<string, string>).accept, 'text/event-stream');
    // a stream that ends without `end` is a failure (the caller polls instead)
    const cut = new Vista3dClient('/v1', (async () => sse([`event: progress\ndata: ${v('running', 1)}\n\n`])) as unknown as typeof fetch);
    await assert.rejects(cut.events('j1', () => undefined), /closed the job's event stream before the job ended/);
  });

  it('resultRegion(): the sub-volume with its box and outside value; ?wait in the URL; headers checked', async () => {
    const urls: string[] = [];
    const sub = { data: new Uint8Array([0, 3, 3, 0, 0, 3]), dims: [1, 2, 3] as [number, number, number], spacing: [1, 2, 3] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as [number, number, number, number, number, number, number, number, number], origin: [5, 6, 7] as [number, number, number] };
    let headers: Record<string, string> = { 'X-VISTA3D-Region': '4,5,6,5,7,9', 'X-VISTA3D-Outside': '255' };
    const c = new Vista3dClient('/v1', (async (url: string) => (urls.push(url), new Response(new Uint8Array(writeNifti(sub, { gzip: false })), { headers }))) as unknown as typeof fetch);
    const r = await c.resultRegion('j1', { wait: 30 });
    assert.deepEqual(urls, ['/v1/vista3d/jobs/j1/result?format=region&wait=30']);
    assert.deepEqual([r.lo, r.hi, r.outside], [[4, 5, 6], [5, 7, 9], 255]);
    assert.deepEqual([...r.labels.data], [...sub.data]);
    assert.deepEqual(r.labels.origin, [5, 6, 7]);
    headers = { 'X-VISTA3D-Region': '4,5,6,5,7', 'X-VISTA3D-Outside': '255' };
    await assert.rejects(c.resultRegion('j1'), /without valid X-VISTA3D-Region/);
    headers = { 'X-VISTA3D-Region': '0,0,0,2,2,3', 'X-VISTA3D-Outside': '0' };
    await assert.rejects(c.resultRegion('j1'), /region of 1×2×3 voxels for the box/);
  });

  it('an aborted request is an AbortError, not "cannot be reached"', async () => {
    const c = new Vista3dClient('/v1', ((_u: string, init: RequestInit) => new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))))) as unknown as typeof fetch);
    const ac = new AbortController();
    const p = c.resultRegion('j1', { wait: 30, signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
  });

  it('prepare(): POSTs the image as JSON and reads the state', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const c = new Vista3dClient('/v1', (async (url: string, init: RequestInit) => (seen.push({ url, init }), new Response(JSON.stringify({ image: '/dicomweb/studies/1/series/2', state: 'loading' }), { status: 202 }))) as unknown as typeof fetch);
    assert.deepEqual(await c.prepare('/dicomweb/studies/1/series/2'), { image: '/dicomweb/studies/1/series/2', state: 'loading' });
    assert.equal(seen[0].url, '/v1/vista3d/prepare');
    assert.equal(seen[0].init.method, 'POST');
    assert.equal(seen[0].init.body, '{"image":"/dicomweb/studies/1/series/2"}');
  });
});
