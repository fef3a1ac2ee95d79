import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactBundle } from '../../test/support/testBundles.ts';
import { closeMatches, LabelSet, resolvePrompts } from './prompts.ts';

const { manifest } = exactBundle();
const labels = new LabelSet(manifest);
const dims = [10, 10, 10];

describe('resolvePrompts', () => {
  it('names are case-insensitive, indices may be numbers or numeric strings, duplicates collapse', () => {
    const r = resolvePrompts({ classes: [' LIVER ', 1, '3', 'right_kidney'] }, manifest, labels, dims);
    assert.deepEqual(r.classIds, [1, 3, 5]);
    assert.equal(r.everything, false);
  });
  it('no prompts → the everything set; an explicit empty list → nothing', () => {
    assert.deepEqual(resolvePrompts(undefined, manifest, labels, dims), { classIds: [1, 3, 6], point: null, everything: true });
    assert.deepEqual(resolvePrompts({ classes: [] }, manifest, labels, dims).classIds, []);
  });
  it('group classes expand to their members', () => {
    assert.deepEqual(resolvePrompts({ classes: ['lung', 'kidney'] }, manifest, labels, dims).classIds, [28, 29, 14, 5]);
  });
  it('points: default positive, negatives 0, special classes shifted to 2/3; a class with points leaves the class list', () => {
    const r = resolvePrompts({ classes: ['spleen', 'liver'], points: { spleen: [[1, 2, 3], [4, 5, 6]] }, pointLabels: { spleen: [1, 0] } }, manifest, labels, dims);
    assert.deepEqual(r.classIds, [1]);
    assert.deepEqual(r.point, { labelId: 3, points: [[1, 2, 3], [4, 5, 6]], labels: [1, 0] });
    const t = resolvePrompts({ points: { 'lung tumor': [[1, 1, 1], [2, 2, 2]] }, pointLabels: { 'lung tumor': [1, 0] } }, manifest, labels, dims);
    assert.deepEqual(t.point?.labels, [3, 2]);
  });
  it('a new structure (zero-shot index) takes points; as a class alone it is empty', () => {
    assert.equal(resolvePrompts({ points: { '140': [[1, 1, 1]] } }, manifest, labels, dims).point?.labelId, 140);
    assert.deepEqual(resolvePrompts({ classes: [140] }, manifest, labels, dims).classIds, []);
  });
  it('point_labels must match points', () => {
    assert.throws(() => resolvePrompts({ points: { spleen: [[1, 1, 1]] }, pointLabels: { spleen: [1, 1] } }, manifest, labels, dims), /one label per point \(1\)/);
    assert.throws(() => resolvePrompts({ points: { spleen: [[1, 1, 1]] }, pointLabels: { liver: [1] } }, manifest, labels, dims), /"liver", which has no points/);
  });
});

describe('closeMatches', () => {
  const names = ['spleen', 'liver', 'left kidney', 'right kidney', 'aorta'];
  const table: [string, string[]][] = [
    ['splen', ['spleen']],
    ['livr', ['liver']],
    ['kidney', ['left kidney', 'right kidney']],
    ['zzzzzz', []],
  ];
  for (const [q, want] of table) it(`${q} → ${want.join(', ') || 'nothing'}`, () => assert.deepEqual(closeMatches(q, names), want));
});
