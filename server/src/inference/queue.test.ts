import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../http/errors.ts';
import { JobQueue } from './queue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('JobQueue', () => {
  it('runs one job at a time, in order, and reports its depth', async () => {
    const depths: [number, number][] = [];
    const q = new JobQueue(2, (w, r) => depths.push([w, r]));
    const order: string[] = [];
    const gate = deferred();
    const a = q.run(async () => {
      order.push('a start');
      await gate.promise;
      order.push('a end');
      return 'a';
    });
    const b = q.run(async () => {
      order.push('b');
      return 'b';
    });
    assert.deepEqual(q.size, { waiting: 1, running: 1 });
    gate.resolve();
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
    assert.deepEqual(order, ['a start', 'a end', 'b']);
    assert.deepEqual(depths.at(-1), [0, 0]);
  });

  it('answers 503 with Retry-After beyond its depth', async () => {
    const q = new JobQueue(1);
    const gate = deferred();
    const a = q.run(() => gate.promise);
    const b = q.run(async () => 'b');
    await assert.rejects(q.run(async () => 'c'), (e: HttpError) => e.status === 503 && e.headers['Retry-After'] === '10' && /1 requests are already waiting/.test(e.message));
    gate.resolve();
    await a;
    assert.equal(await b, 'b');
  });

  it('a waiting job whose client leaves is dropped and never runs; the next one runs', async () => {
    const q = new JobQueue(3);
    const gate = deferred();
    const a = q.run(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const b = q.run(async () => {
      ran = true;
    }, ac.signal);
    const c = q.run(async () => 'c');
    ac.abort();
    await assert.rejects(b, (e: HttpError) => e.status === 499);
    assert.deepEqual(q.size, { waiting: 1, running: 1 });
    gate.resolve();
    await a;
    assert.equal(await c, 'c');
    assert.equal(ran, false);
  });

  it('a failing job does not block the queue', async () => {
    const q = new JobQueue(1);
    const a = q.run(async () => {
      throw new Error('boom');
    });
    const b = q.run(async () => 'b');
    await assert.rejects(a, /boom/);
    assert.equal(await b, 'b');
  });
});
