import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, Vista3dClient } from './client.ts';

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
