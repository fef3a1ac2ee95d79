import type { PixelWindow } from './planes.ts';

/**
 * How a new result enters the labels already shown, voxel by voxel (both arrays on the same pixels):
 * - class prompts replace only the labels asked for: those voxels are cleared, then the new ones written;
 * - a point prompt updates only its label where it was processed (255 = not processed keeps what is there).
 * Returns the number of voxels changed.
 */
export type MergeRule = { kind: 'classes'; labels: ReadonlySet<number> } | { kind: 'point'; label: number };

/** A labelmap image's voxels, as Cornerstone3D's voxel manager hands them out (a typed array, in practice). */
export type LabelPixels = { length: number; [i: number]: number };

/** 1 at each label index (0–255) in `labels`; labels outside 0–255 cannot be in a Uint8 labelmap. */
export function labelTable(labels: Iterable<number>): Uint8Array {
  const t = new Uint8Array(256);
  for (const l of labels) if (Number.isInteger(l) && l >= 0 && l < 256) t[l] = 1;
  return t;
}

/** The merge of one voxel: what `was` becomes when the result says `got` (`asked`: labelTable of a class rule; a label over 255 is never in it). */
function mergeOne(was: number, got: number, rule: MergeRule, asked: Uint8Array | null, notProcessed: number): number {
  if (rule.kind === 'classes') {
    let next = asked![was] === 1 ? 0 : was;
    if (got !== 0 && got !== notProcessed && asked![got] === 1) next = got;
    return next;
  }
  if (got === notProcessed) return was;
  if (got === rule.label) return got;
  return was === rule.label ? 0 : was;
}

/**
 * The merge for the pixels of `window` only: `current` is a whole image (row-major, `columns` per row),
 * `incoming` the window's result (row-major within the window). Pixels outside the window are not touched.
 */
export function mergeLabelsInWindow(current: LabelPixels, window: PixelWindow, columns: number, incoming: Uint8Array, rule: MergeRule, notProcessed = 255): number {
  const asked = rule.kind === 'classes' ? labelTable(rule.labels) : null;
  let changed = 0;
  let q = 0;
  for (let r = window.r0; r < window.r0 + window.rows; r++) {
    let p = r * columns + window.c0;
    for (let c = 0; c < window.columns; c++, p++, q++) {
      const was = current[p];
      const next = mergeOne(was, incoming[q], rule, asked, notProcessed);
      if (next !== was) {
        current[p] = next;
        changed++;
      }
    }
  }
  return changed;
}

/**
 * What merging a result that holds `got` everywhere does to each label: a 256-entry table (old label → new label),
 * or null when it changes nothing (a point prompt's "not processed", or a class result's background when it asked
 * for nothing). Outside a result's box every voxel holds the same value, so one table is the whole merge there.
 */
export function uniformMerge(got: number, rule: MergeRule, notProcessed = 255): Uint8Array | null {
  const asked = rule.kind === 'classes' ? labelTable(rule.labels) : null;
  const table = new Uint8Array(256);
  let identity = true;
  for (let was = 0; was < 256; was++) {
    table[was] = mergeOne(was, got, rule, asked, notProcessed);
    if (table[was] !== was) identity = false;
  }
  return identity ? null : table;
}

/**
 * Applies a uniformMerge table to every pixel of `current` (an image of `rows` × `columns`, row-major) outside
 * `window` (null: to every pixel). Returns the number of voxels changed.
 */
export function mapOutsideWindow(current: LabelPixels, rows: number, columns: number, window: PixelWindow | null, table: Uint8Array): number {
  let changed = 0;
  const span = (from: number, to: number) => {
    for (let p = from; p < to; p++) {
      const was = current[p];
      if (was > 255) continue;
      const next = table[was];
      if (next !== was) {
        current[p] = next;
        changed++;
      }
    }
  };
  if (!window) {
    span(0, rows * columns);
    return changed;
  }
  const { r0, c0 } = window;
  const r1 = r0 + window.rows;
  const c1 = c0 + window.columns;
  span(0, r0 * columns);
  for (let r = r0; r < r1; r++) {
    span(r * columns, r * columns + c0);
    span(r * columns + c1, (r + 1) * columns);
  }
  span(r1 * columns, rows * columns);
  return changed;
}

/** A stable, distinct display colour for a VISTA3D label index (golden-angle hues), RGBA 0–255. */
export function labelColor(label: number): [number, number, number, number] {
  const h = ((label * 137.508) % 360) / 60;
  const s = 0.75;
  const v = 0.95;
  const c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = v - c;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255), 255];
}
