import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PromptError } from '../errors.ts';
import { parseManifest } from './manifest.ts';
import { LabelSet, resolvePrompts } from './prompts.ts';

/** The real VISTA3D's manifest (models/vista3d/model.json) against the published label dictionary and rules. */
const manifestPath = fileURLToPath(new URL('../../vista3d/model.json', import.meta.url));
const manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
const labels = new LabelSet(manifest);
const dims = [100, 100, 100];

// shared/ sits beside the repository folder (CI lays a copy there too).
const referencePath = fileURLToPath(new URL('../../../../shared/reference/vista3d-labels.json', import.meta.url));
const reference = existsSync(referencePath)
  ? (JSON.parse(readFileSync(referencePath, 'utf8')) as {
      labels: Record<string, string>;
      everything: number[];
      subclasses: Record<string, number[]>;
      no_point_prompts: number[];
      last_supported: number;
      not_processed_value: number;
    })
  : null;
const skip = reference ? false : `no reference label dictionary at ${referencePath}`;

describe('vista3d model.json against the reference dictionary', { skip }, () => {
  it('has exactly the reference labels, index → name', () => {
    assert.deepEqual(manifest.labels, reference!.labels);
    assert.equal(Object.keys(manifest.labels).length, 132);
  });
  it('has the reference "everything" set, subclasses and point rules', () => {
    assert.deepEqual([...manifest.everything].sort((a, b) => a - b), [...reference!.everything].sort((a, b) => a - b));
    assert.deepEqual(manifest.subclasses, reference!.subclasses);
    assert.deepEqual(manifest.noPointPrompts, reference!.no_point_prompts);
    assert.equal(manifest.zeroShotFrom, reference!.last_supported + 1);
    assert.equal(manifest.notProcessedValue, reference!.not_processed_value);
  });
});

describe('vista3d model.json', () => {
  it('special classes are MONAI SPECIAL_INDEX (monai/apps/vista3d/sampler.py)', () => {
    assert.deepEqual(manifest.specialClasses, [23, 24, 25, 26, 27, 57, 128]);
  });

  const table: [string, (string | number)[], number[]][] = [
    ['kidney → left + right kidney', ['kidney'], [14, 5]],
    ['lung → the five lobes', ['lung'], [28, 29, 30, 31, 32]],
    ['names are case-insensitive, indices pass through', ['Spleen', 1], [3, 1]],
  ];
  for (const [what, classes, want] of table) {
    it(what, () => assert.deepEqual(resolvePrompts({ classes }, manifest, labels, dims).classIds, want));
  }

  it('bone expands to its 62 members', () => {
    assert.equal(resolvePrompts({ classes: ['bone'] }, manifest, labels, dims).classIds.length, 62);
  });

  it('no prompts → the 117 classes of "everything"', () => {
    const r = resolvePrompts(undefined, manifest, labels, dims);
    assert.equal(r.everything, true);
    assert.equal(r.classIds.length, 117);
  });

  it('points cannot target a group class', () => {
    for (const group of ['bone', 'kidney', 'lung'])
      assert.throws(() => resolvePrompts({ points: { [group]: [[1, 2, 3]] } }, manifest, labels, dims), (e: unknown) =>
        e instanceof PromptError && /cannot target .*\(/.test(e.message));
  });

  it('points on hepatic tumor use the special labels 3 (positive) and 2 (negative)', () => {
    const r = resolvePrompts(
      { points: { 'hepatic tumor': [[10, 20, 30], [12, 20, 30]] }, pointLabels: { 'hepatic tumor': [1, 0] } },
      manifest,
      labels,
      dims,
    );
    assert.deepEqual(r.point, { labelId: 26, points: [[10, 20, 30], [12, 20, 30]], labels: [3, 2] });
    assert.deepEqual(resolvePrompts({ points: { spleen: [[1, 1, 1]] } }, manifest, labels, dims).point?.labels, [1]);
  });

  it('a misspelt class name gets the right one suggested', () => {
    assert.throws(() => resolvePrompts({ classes: ['splen'] }, manifest, labels, dims), (e: unknown) =>
      e instanceof PromptError && /unknown class "splen"; did you mean "spleen"/.test(e.message));
  });
});
