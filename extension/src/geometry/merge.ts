/**
 * How a new result enters the labels already shown, voxel by voxel (both arrays on the same pixels):
 * - class prompts replace only the labels asked for: those voxels are cleared, then the new ones written;
 * - a point prompt updates only its label where it was processed (255 = not processed keeps what is there).
 * Returns the number of voxels changed.
 */
export type MergeRule = { kind: 'classes'; labels: ReadonlySet<number> } | { kind: 'point'; label: number };

export function mergeLabels(current: { length: number; [i: number]: number }, incoming: Uint8Array, rule: MergeRule, notProcessed = 255): number {
  let changed = 0;
  for (let p = 0; p < incoming.length; p++) {
    const was = current[p];
    const got = incoming[p];
    let next = was;
    if (rule.kind === 'classes') {
      if (rule.labels.has(was)) next = 0;
      if (got !== 0 && got !== notProcessed && rule.labels.has(got)) next = got;
    } else if (got !== notProcessed) {
      if (got === rule.label) next = got;
      else if (was === rule.label) next = 0;
    }
    if (next !== was) {
      current[p] = next;
      changed++;
    }
  }
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
