/**
 * What each part of the stress run counts (one row of the final table), the findings behind the failures
 * (grouped by signature, first input kept for reproduction), and the process's RSS, sampled every second.
 */
import { memoryUsage } from 'node:process';
import type { Outcome } from './http.ts';

export interface Row {
  part: string;
  tried: number;
  rejected: number;
  accepted: number;
  crashes: number;
  /** Unexpected 5xx. */
  fiveXX: number;
  /** 5xx from injected faults (an image host answering 500, or never). */
  expected5xx: number;
  /** 503 with Retry-After: queue or job store full. */
  shed: number;
  hangs: number;
  /** 4xx without a JSON {detail}, valid requests refused, accepted inputs with impossible geometry. */
  odd: number;
  peakRss: number;
  /** Requests (or inputs) handled per minute, and latency of the accepted ones (ms). */
  perMinute?: number;
  latency?: { p50: number; p95: number; p99: number } | null;
  /** Stopped before its count because its time budget ran out. */
  note?: string;
}

export function emptyRow(part: string): Row {
  return { part, tried: 0, rejected: 0, accepted: 0, crashes: 0, fiveXX: 0, expected5xx: 0, shed: 0, hangs: 0, odd: 0, peakRss: 0 };
}

/** Adds one outcome to a row; returns the outcome for the caller's findings. */
export function count(row: Row, o: Outcome): Outcome {
  row.tried++;
  if (o === 'accepted') row.accepted++;
  else if (o === 'rejected') row.rejected++;
  else if (o === 'bad4xx') row.odd++;
  else if (o === 'shed') row.shed++;
  else if (o === '5xx') row.fiveXX++;
  else if (o === 'expected5xx') row.expected5xx++;
  else if (o === 'hang') row.hangs++;
  else row.crashes++;
  return o;
}

export interface Finding {
  part: string;
  kind: 'crash' | '5xx' | 'hang' | 'reset' | 'odd';
  /** What groups repeats: error name + message shape + top frame, or status + detail. */
  signature: string;
  /** How to make it again: seed, index, the operations applied / the request. */
  input: string;
  detail: string;
  /** Where the input was saved, if it was. */
  saved?: string;
  times: number;
}

export class Findings {
  private readonly bySignature = new Map<string, Finding>();
  add(f: Omit<Finding, 'times'>): void {
    const key = `${f.part}|${f.kind}|${f.signature}`;
    const had = this.bySignature.get(key);
    if (had) had.times++;
    else this.bySignature.set(key, { ...f, times: 1 });
  }
  get all(): Finding[] {
    return [...this.bySignature.values()];
  }
}

/** A stable signature for an error: name, message with numbers and quoted parts blanked, first frame in our code. */
export function errorSignature(name: string, message: string, stack = ''): string {
  const shape = message.replace(/"[^"]*"/g, '"…"').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N').slice(0, 160);
  const frame = stack.split('\n').find((l) => /\/(models|server)\/src\//.test(l))?.trim() ?? stack.split('\n')[1]?.trim() ?? '';
  return `${name}: ${shape} ${frame.replace(/^at /, '@ ')}`;
}

/** RSS sampled every second for the whole run; `peakSince(mark)` is the most seen since `mark()`. */
export class RssSampler {
  private readonly samples: { t: number; rss: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }
  sample(): number {
    const rss = memoryUsage.rss();
    this.samples.push({ t: performance.now(), rss });
    return rss;
  }
  mark(): number {
    this.sample();
    return performance.now();
  }
  peakSince(t: number): number {
    this.sample();
    let peak = 0;
    for (const s of this.samples) if (s.t >= t - 1 && s.rss > peak) peak = s.rss;
    return peak;
  }
  get peak(): number {
    return Math.max(...this.samples.map((s) => s.rss));
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

/** The markdown table: one row per part, then the totals that decide the exit code. */
export function table(rows: readonly Row[]): string {
  const head = ['part', 'inputs tried', 'rejected correctly', 'accepted', 'crashes', '5xx', 'hangs', 'shed (503)', 'injected 5xx', 'odd', 'peak RSS', 'throughput', 'p50 / p95 / p99'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const lat = r.latency ? `${ms(r.latency.p50)} / ${ms(r.latency.p95)} / ${ms(r.latency.p99)}` : '–';
    const tp = r.perMinute === undefined ? '–' : `${r.perMinute >= 100 ? r.perMinute.toFixed(0) : r.perMinute.toFixed(1)}/min`;
    lines.push(
      `| ${r.part}${r.note ? ` (${r.note})` : ''} | ${r.tried} | ${r.rejected} | ${r.accepted} | ${r.crashes} | ${r.fiveXX} | ${r.hangs} | ${r.shed} | ${r.expected5xx} | ${r.odd} | ${mib(r.peakRss)} | ${tp} | ${lat} |`,
    );
  }
  return lines.join('\n');
}
