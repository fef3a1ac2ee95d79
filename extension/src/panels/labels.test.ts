import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PRESETS, groupLabels, groupOf, labelEntries, matchesQuery, pointTargets, type GroupName } from './labels.ts';

// The real VISTA3D label table (models/vista3d/model.json), as /v1/vista3d/info would list it.
const manifest = JSON.parse(readFileSync(new URL('../../../models/vista3d/model.json', import.meta.url), 'utf8')) as {
  labels: Record<string, string>;
  everything: number[];
  subclasses: Record<string, number[]>;
  noPointPrompts: number[];
  zeroShotFrom: number;
};
const info = {
  labels: Object.fromEntries(Object.entries(manifest.labels).map(([id, name]) => [name, Number(id)])),
  everything: manifest.everything,
  subclasses: manifest.subclasses,
  no_point_prompts: manifest.noPointPrompts,
  zero_shot_from: manifest.zeroShotFrom,
};
const labels = labelEntries(info);
const names = (ids: number[]) => ids.map((id) => manifest.labels[String(id)]);

describe('label groups', () => {
  const table: [string, GroupName][] = [
    ['liver', 'organs'],
    ['left kidney', 'organs'],
    ['spinal cord', 'organs'],
    ['prostate or uterus', 'organs'],
    ['aorta', 'vessels'],
    ['inferior vena cava', 'vessels'],
    ['portal vein and splenic vein', 'vessels'],
    ['hepatic vessel', 'vessels'],
    ['brachiocephalic trunk', 'vessels'],
    ['left atrial appendage', 'vessels'],
    ['vertebrae L1', 'bones'],
    ['right rib 12', 'bones'],
    ['costal cartilages', 'bones'],
    ['left clavicula', 'bones'],
    ['left gluteus maximus', 'muscles'],
    ['right autochthon', 'muscles'],
    ['left lung upper lobe', 'lungs'],
    ['airway', 'lungs'],
    ['trachea', 'lungs'],
    ['lung tumor', 'lesions'],
    ['hepatic tumor', 'lesions'],
    ['left kidney cyst', 'lesions'],
    ['kidney mass', 'lesions'],
    ['bone lesion', 'lesions'],
    ['colon cancer primaries', 'lesions'],
    ['something new', 'other'],
  ];
  for (const [name, group] of table) it(`${name} → ${group}`, () => assert.equal(groupOf(name), group));

  it('puts every VISTA3D label in exactly one group, in index order, none in "other"', () => {
    const groups = groupLabels(labels);
    const all = groups.flatMap((g) => g.labels.map((l) => l.id));
    assert.equal(all.length, labels.length);
    assert.equal(new Set(all).size, labels.length);
    assert.ok(!groups.some((g) => g.group === 'other'), `other: ${names(groups.find((g) => g.group === 'other')?.labels.map((l) => l.id) ?? [])}`);
    for (const g of groups) assert.deepEqual(g.labels.map((l) => l.id), [...g.labels.map((l) => l.id)].sort((a, b) => a - b));
  });
});

describe('search', () => {
  it('matches every word, case-insensitively, or the index', () => {
    const hits = (q: string) => labels.filter((l) => matchesQuery(l, q)).map((l) => l.name);
    assert.deepEqual(hits('KIDNEY cyst'), ['left kidney cyst', 'right kidney cyst']);
    assert.deepEqual(hits('6'), ['aorta']);
    assert.equal(hits('  ').length, labels.length);
    assert.deepEqual(hits('zzz'), []);
  });
});

describe('presets', () => {
  const pick = (id: string) => names(PRESETS.find((p) => p.id === id)!.pick(labels, info));
  it('abdomen', () => {
    assert.deepEqual(pick('abdomen').sort(), ['aorta', 'gallbladder', 'inferior vena cava', 'left kidney', 'liver', 'pancreas', 'right kidney', 'spleen', 'stomach']);
  });
  it('chest: the five lobes (not "lung"), heart, aorta, trachea', () => {
    const chest = pick('chest');
    assert.equal(chest.filter((n) => /lobe/.test(n)).length, 5);
    assert.ok(!chest.includes('lung'));
    for (const n of ['heart', 'aorta', 'trachea']) assert.ok(chest.includes(n), n);
  });
  it('spine: every vertebra, sacrum, spinal cord', () => {
    const spine = pick('spine');
    assert.equal(spine.filter((n) => n.startsWith('vertebrae')).length, Object.values(manifest.labels).filter((n) => n.startsWith('vertebrae')).length);
    assert.ok(spine.includes('sacrum') && spine.includes('spinal cord'));
  });
  it('everything = the model\'s "everything" list, restricted to the supported labels', () => {
    assert.deepEqual(PRESETS.find((p) => p.id === 'everything')!.pick(labels, info), manifest.everything);
    const few = labelEntries({ labels: { liver: 1, spleen: 3 } });
    assert.deepEqual(PRESETS.find((p) => p.id === 'everything')!.pick(few, info), [1, 3]);
  });
  it('only returns supported labels (a small test model)', () => {
    const few = labelEntries({ labels: { liver: 1, lung: 20, aorta: 6 } });
    assert.deepEqual(names(PRESETS.find((p) => p.id === 'chest')!.pick(few, info)), ['aorta', 'lung']);
  });
});

describe('point targets', () => {
  it('leaves out the labels without point prompts', () => {
    const ids = pointTargets(labels, info).map((l) => l.id);
    for (const id of manifest.noPointPrompts) assert.ok(!ids.includes(id), String(id));
    assert.ok(ids.every((id) => id < manifest.zeroShotFrom));
    assert.equal(ids.length, labels.length - new Set(manifest.noPointPrompts.filter((id) => manifest.labels[String(id)])).size);
  });
});
