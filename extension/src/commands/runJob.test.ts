import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobView } from '@vista3d/models';
import { ApiError, type RegionResult, type Vista3dClient } from '../api/client.ts';
import { createStore, type JobState } from '../state/store.ts';
import type { CommandContext } from './context.ts';
import { runJob } from './runJob.ts';
import { LocalRunner } from '../local/localRunner.ts';
import { browserRunConfig } from './index.ts';

const view = (id: string, state: JobView['state'], stage: string, done: number, total = 4): JobView => ({ id, state, stage, done, total });
const region: RegionResult = { labels: { data: new Uint8Array([3]), dims: [1, 1, 1], spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] }, lo: [0, 0, 0], hi: [1, 1, 1], outside: 0 };
const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });
/** A promise that rejects with an AbortError when `signal` aborts, and otherwise never settles. */
const untilAborted = (signal?: AbortSignal) => new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(abortError()), { once: true }));

function context(api: Partial<Record<keyof Vista3dClient, unknown>>) {
  const store = createStore();
  const jobs: (JobState | null)[] = [];
  store.subscribe((s) => jobs.push(s.job && { ...s.job }));
  const calls = { sleep: [] as number[], log: [] as string[] };
  const ctx: CommandContext = {
    store,
    api: api as unknown as Vista3dClient,
    services: {},
    cs: () => {
      throw new Error('no Cornerstone here');
    },
    runCommand: () => undefined,
    imageUrlFor: () => '/dicomweb/studies/1/series/2',
    sleep: (ms) => (calls.sleep.push(ms), new Promise((r) => setImmediate(r))),
    running: { id: null, cancelled: false },
    prepared: new Map(),
    local: new LocalRunner(() => {
      throw new Error('no worker here');
    }),
    browser: browserRunConfig(undefined),
    now: () => 0,
    log: (m) => void calls.log.push(m),
  };
  return { ctx, store, jobs, calls };
}

describe('runJob: progress from the event stream, the result in the round trip that ends the job', () => {
  it('the stream\'s progress reaches the store; one waiting result request brings the result; nothing is polled', async () => {
    const waits: unknown[] = [];
    let endStream!: () => void;
    const { ctx, jobs, calls } = context({
      startJob: async () => view('j1', 'queued', 'queued', 0, 0),
      events: async (_id: string, onView: (v: JobView) => void) => {
        onView(view('j1', 'running', 'inference', 1));
        onView(view('j1', 'running', 'inference', 3));
        await new Promise<void>((r) => (endStream = r));
        return view('j1', 'done', 'done', 4);
      },
      resultRegion: async (_id: string, opts: { wait?: number }) => {
        waits.push(opts.wait);
        await new Promise((r) => setTimeout(r, 10));
        endStream();
        return region;
      },
      job: async () => assert.fail('polled'),
    });
    const got = await runJob(ctx, 'classes', { image: 'x' });
    assert.equal(got, region);
    assert.deepEqual(waits, [30]);
    const seen = jobs.map((j) => j && `${j.state} ${j.stage} ${j.done}/${j.total}`);
    assert.ok(seen.includes('running inference 3/4'), seen.join('; '));
    assert.equal(seen.at(-1), 'running writing 4/4', '"done" waits for the labelmap (finishJob)');
    assert.deepEqual(calls.sleep, []);
    assert.equal(ctx.running.id, null);
  });

  it('when the stream fails, the job is polled every 200 ms for progress; the result still comes by waiting', async () => {
    let polls = 0;
    let release!: (r: RegionResult) => void;
    const { ctx, jobs, calls } = context({
      startJob: async () => view('j1', 'queued', 'queued', 0, 0),
      events: async () => {
        throw new ApiError('The VISTA3D server answered 404: no', 404);
      },
      job: async () => {
        polls++;
        if (polls === 2) setTimeout(() => release(region), 0);
        return view('j1', 'running', 'inference', polls);
      },
      resultRegion: () => new Promise((r) => (release = r)),
    });
    assert.equal(await runJob(ctx, 'points', { image: 'x' }), region);
    assert.ok(polls >= 2);
    assert.ok(calls.sleep.every((ms) => ms === 200) && calls.sleep.length >= 2);
    assert.match(calls.log[0], /no event stream for job j1.*polling every 200 ms/);
    assert.ok(jobs.some((j) => j?.stage === 'inference' && j.done === 2));
  });

  it('a wait that runs out (409 while the job runs) is asked again at once; cancel and failure end it', async () => {
    const states: JobView['state'][] = ['running', 'cancelled'];
    let asked = 0;
    const { ctx, store, calls } = context({
      startJob: async () => view('j1', 'queued', 'queued', 0, 0),
      events: (_id: string, _on: unknown, signal: AbortSignal) => untilAborted(signal),
      resultRegion: async () => {
        asked++;
        throw new ApiError('job j1 is running', 409);
      },
      job: async () => view('j1', states.shift()!, 'inference', 2),
    });
    assert.equal(await runJob(ctx, 'classes', { image: 'x' }), null);
    assert.equal(asked, 2);
    assert.deepEqual(calls.sleep, [], 'no sleeping between waits');
    assert.equal(store.get().job?.state, 'cancelled');
    assert.equal(store.get().notice, 'Cancelled.');

    const failing = context({
      startJob: async () => view('j2', 'queued', 'queued', 0, 0),
      events: (_id: string, _on: unknown, signal: AbortSignal) => untilAborted(signal),
      resultRegion: async () => {
        throw new ApiError('The VISTA3D server answered 413: too big', 413);
      },
      job: async () => ({ ...view('j2', 'failed', 'load', 0), error: { status: 413, detail: 'image is over MAX_DOWNLOAD_BYTES' } }),
    });
    await assert.rejects(runJob(failing.ctx, 'classes', { image: 'x' }), /MAX_DOWNLOAD_BYTES/);
  });

  it('a newer job supersedes a running one: the older stops waiting (its requests are aborted) and returns null', async () => {
    const signals: AbortSignal[] = [];
    let n = 0;
    const { ctx, store } = context({
      startJob: async () => view(`j${++n}`, 'queued', 'queued', 0, 0),
      events: (_id: string, _on: unknown, signal: AbortSignal) => (signals.push(signal), untilAborted(signal)),
      resultRegion: (id: string, opts: { signal: AbortSignal }) => (id === 'j1' ? untilAborted(opts.signal) : Promise.resolve(region)),
    });
    const first = runJob(ctx, 'points', { image: 'x' });
    await new Promise((r) => setTimeout(r, 5));
    const second = runJob(ctx, 'points', { image: 'x' });
    assert.equal(await first, null);
    assert.equal(await second, region);
    assert.ok(signals.every((s) => s.aborted), 'both streams closed');
    assert.equal(store.get().job?.stage, 'writing');
  });
});
