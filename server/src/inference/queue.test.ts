import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../http/errors.ts';
import { JobQueue, Limiter } from './queue.ts';

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

  /** A batch job of `windows` windows that yields before each, logging them; each window waits for `step`. */
  const batchJob = (order: string[], name: string, windows: number, step: () => Promise<void>) => async (yieldTurn: () => Promise<void>) => {
    for (let w = 0; w < windows; w++) {
      await yieldTurn();
      order.push(`${name}:${w}`);
      await step();
    }
  };

  it('a running batch job yields to a click between its windows, then resumes before other batch work', async () => {
    const q = new JobQueue(10);
    const order: string[] = [];
    let tick = deferred();
    const step = () => tick.promise;
    const long = q.run(batchJob(order, 'long', 4, step), undefined, { priority: 'batch', client: 'script' });
    const other = q.run(batchJob(order, 'other', 1, async () => undefined), undefined, { priority: 'batch', client: 'script2' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['long:0']);
    const click = q.admit({ priority: 'interactive', client: 'alice' });
    const clicked = click.run(async () => void order.push('click'));
    assert.equal(click.position(), 1);
    assert.deepEqual(q.load, { interactive: { waiting: 1, running: 0 }, batch: { waiting: 1, running: 1 } });
    // window 0 ends: the click runs before window 1
    const t = tick;
    tick = deferred();
    t.resolve();
    await clicked;
    assert.deepEqual(order, ['long:0', 'click']);
    tick.resolve();
    tick = { promise: Promise.resolve(), resolve: () => undefined };
    await Promise.all([long, other]);
    assert.deepEqual(order, ['long:0', 'click', 'long:1', 'long:2', 'long:3', 'other:0']);
  });

  it('a batch job that yielded and is cancelled meanwhile ends with 499 and frees its place', async () => {
    const q = new JobQueue(10);
    const order: string[] = [];
    const gate = deferred();
    const ac = new AbortController();
    const long = q.run(batchJob(order, 'long', 3, () => gate.promise), ac.signal, { priority: 'batch' });
    await new Promise((r) => setImmediate(r));
    let release!: () => void;
    const clicked = q.run(() => new Promise<void>((r) => (release = r)), undefined, { priority: 'interactive' });
    gate.resolve();
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(long, (e: HttpError) => e.status === 499 && /yielded/.test(e.message));
    release();
    await clicked;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(q.size, { waiting: 0, running: 0 });
    assert.deepEqual(order, ['long:0']);
  });

  it('with the fifo policy the first admitted runs first and nothing yields', async () => {
    const q = new JobQueue(10, undefined, 10, 'fifo');
    const order: string[] = [];
    const long = q.run(batchJob(order, 'long', 3, () => new Promise((r) => setImmediate(r))), undefined, { priority: 'batch' });
    await new Promise((r) => setImmediate(r));
    const clicked = q.run(async () => void order.push('click'), undefined, { priority: 'interactive' });
    await Promise.all([long, clicked]);
    assert.deepEqual(order, ['long:0', 'long:1', 'long:2', 'click']);
  });
});

describe('Limiter (image loads)', () => {
  it('at most `limit` at once; batch loads never take the last slot; waiting clicks load before waiting batch work', async () => {
    const l = new Limiter(2);
    const order: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const task = (name: string, priority: 'interactive' | 'batch') => {
      const g = deferred();
      gates.set(name, g);
      return l.run(async () => {
        order.push(name);
        await g.promise;
      }, undefined, priority);
    };
    const b1 = task('batch-1', 'batch');
    const b2 = task('batch-2', 'batch');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['batch-1'], 'the second batch load waits: the last slot is kept for clicks');
    const c1 = task('click-1', 'interactive');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['batch-1', 'click-1']);
    const c2 = task('click-2', 'interactive');
    assert.deepEqual(l.size, { active: 2, waiting: 2 });
    gates.get('batch-1')!.resolve();
    await b1;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['batch-1', 'click-1', 'click-2'], 'a waiting click before a waiting batch load');
    gates.get('click-1')!.resolve();
    gates.get('click-2')!.resolve();
    await Promise.all([c1, c2]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['batch-1', 'click-1', 'click-2', 'batch-2']);
    gates.get('batch-2')!.resolve();
    await b2;
    assert.deepEqual(l.size, { active: 0, waiting: 0 });
  });
});
