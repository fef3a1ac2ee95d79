import { cpus, totalmem } from 'node:os';

/** The machine a figure was measured on, printed beside it. */
export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'} × ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}

/** Median and minimum wall time (ms) of `repeats` calls after `warmups` calls. */
export async function timeIt(fn: () => Promise<unknown> | unknown, repeats: number, warmups = 1): Promise<{ median: number; min: number }> {
  for (let i = 0; i < warmups; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}
