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

describe('JobQueue priorities and fairness', () => {
  it('interactive work goes before batch work; within a priority each client in turn; positions say the order', async () => {
    const q = new JobQueue(10);
    const order: string[] = [];
    const gate = deferred();
    const first = q.run(() => gate.promise, undefined, { priority: 'batch', client: 'script' });
    const waiting: Promise<unknown>[] = [];
    const admitted: { name: string; a: ReturnType<JobQueue['admit']> }[] = [];
    // admitted in this order: two batch calls, then alice's burst of three clicks, then one click of bob's
    for (const [name, priority, client] of [
      ['batch-1', 'batch', 'script'],
      ['batch-2', 'batch', 'script'],
      ['alice-1', 'interactive', 'alice'],
      ['alice-2', 'interactive', 'alice'],
      ['alice-3', 'interactive', 'alice'],
      ['bob-1', 'interactive', 'bob'],
    ] as const) {
      const a = q.admit({ priority, client });
      admitted.push({ name, a });
      waiting.push(a.run(async () => void order.push(name)));
    }
    // alice was served (her first click) before bob asked: bob goes next after it, then alice again
    assert.deepEqual(
      admitted.map(({ name, a }) => [name, a.position()]),
      [['batch-1', 5], ['batch-2', 6], ['alice-1', 1], ['alice-2', 3], ['alice-3', 4], ['bob-1', 2]],
    );
    gate.resolve();
    await first;
    await Promise.all(waiting);
    assert.deepEqual(order, ['alice-1', 'bob-1', 'alice-2', 'alice-3', 'batch-1', 'batch-2']);
    assert.equal(admitted[0].a.position(), undefined, 'no position once it ran');
  });
});
