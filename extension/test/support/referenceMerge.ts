/**
 * The labelmap merge as it was before results came as regions (Set.has per voxel, the whole image): the reference
 * the windowed merge is checked against (commands.test.ts) and timed against (apply.bench.ts).
 */
export function referenceMerge(current: Uint8Array, incoming: Uint8Array, rule: { kind: 'classes'; labels: ReadonlySet<number> } | { kind: 'point'; label: number }, notProcessed = 255): void {
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
    current[p] = next;
  }
}
