import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NEW_STRUCTURE_CODING, segmentCoding, VISTA3D_LABEL_CODING, type CodedConcept, type LabelCodingEntry } from './segCoding.ts';

const manifest = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { name: string; labels: Record<string, string> };
const MODELS = [manifest('../../vista3d/model.json'), manifest('../../bundles/phantom/model.json')];
/** NVIDIA's VISTA3D label dictionary, as its manifest in this repository holds it (132 labels). */
const REFERENCE = MODELS[0].labels;

/** Codes DICOM PS3.16 uses for these roles (CID 7150 categories, CID 244 laterality). */
const CATEGORIES = new Set(['91723000', '85756007', '49755003']);
const LATERALITY = new Set(['7771000', '24028007']);
/** Labels VISTA3D itself names twice for one concept (its metadata: 130 "already have hepatic tumor"). */
const SYNONYMS = [[26, 130]];

const key = (c?: CodedConcept) => (c ? `${c.CodingSchemeDesignator}:${c.CodeValue}` : '-');
/** What the segment is: type + its modifier + region + region modifier (the category only groups). */
const anatomy = (e: LabelCodingEntry) => [e.type, e.typeModifier, e.anatomicRegion, e.anatomicRegionModifier].map(key).join(' ');

describe('VISTA3D label coding table (models/vista3d/labels-coding.json)', () => {
  test('covers every label of every model manifest, under the same name, and nothing else', () => {
    for (const m of MODELS) {
      for (const [index, name] of Object.entries(m.labels)) {
        const e = VISTA3D_LABEL_CODING[index];
        assert.ok(e, `${m.name}: label ${index} (${name}) has no coding`);
        assert.equal(e.name, name, `${m.name}: label ${index} is "${name}" in the manifest, "${e.name}" in the coding table`);
      }
    }
    assert.deepEqual(Object.keys(VISTA3D_LABEL_CODING).map(Number).sort((a, b) => a - b), Object.keys(REFERENCE).map(Number).sort((a, b) => a - b), 'the table codes exactly VISTA3D\'s 132 labels');
  });

  test('every code is a SNOMED CT code with a meaning; categories from CID 7150, modifiers Left/Right only', () => {
    for (const [index, e] of Object.entries(VISTA3D_LABEL_CODING)) {
      for (const c of [e.category, e.type, e.typeModifier, e.anatomicRegion, e.anatomicRegionModifier]) {
        if (!c) continue;
        assert.equal(c.CodingSchemeDesignator, 'SCT', `label ${index}: ${key(c)} is not SNOMED CT`);
        assert.match(c.CodeValue, /^[1-9]\d{5,17}$/, `label ${index}: ${c.CodeValue} is not an SCT identifier`);
        assert.ok(c.CodeMeaning.trim(), `label ${index}: ${key(c)} has no meaning`);
      }
      assert.ok(CATEGORIES.has(e.category.CodeValue), `label ${index}: category ${key(e.category)} is not one of CID 7150's`);
      for (const m of [e.typeModifier, e.anatomicRegionModifier]) if (m) assert.ok(LATERALITY.has(m.CodeValue), `label ${index}: modifier ${key(m)} is not Left/Right`);
      assert.ok(!(e.anatomicRegionModifier && !e.anatomicRegion), `label ${index}: a region modifier without a region`);
      assert.ok(e.source, `label ${index}: no source`);
    }
  });

  test('a code means one thing: the same meaning wherever it is used', () => {
    const meanings = new Map<string, string>();
    for (const [index, e] of Object.entries(VISTA3D_LABEL_CODING)) {
      for (const c of [e.category, e.type, e.typeModifier, e.anatomicRegion, e.anatomicRegionModifier]) {
        if (!c) continue;
        const had = meanings.get(key(c));
        assert.ok(had === undefined || had === c.CodeMeaning, `label ${index}: ${key(c)} means "${c.CodeMeaning}" here, "${had}" elsewhere`);
        meanings.set(key(c), c.CodeMeaning);
      }
    }
  });

  test('no coding is used twice for different anatomy (same code + another modifier is another structure)', () => {
    const byAnatomy = new Map<string, number>();
    const synonym = (a: number, b: number) => SYNONYMS.some((s) => s.includes(a) && s.includes(b));
    for (const [index, e] of Object.entries(VISTA3D_LABEL_CODING)) {
      const k = anatomy(e);
      const other = byAnatomy.get(k);
      assert.ok(other === undefined || synonym(other, Number(index)), `labels ${other} (${VISTA3D_LABEL_CODING[String(other)]?.name}) and ${index} (${e.name}) are coded alike: ${k}`);
      byAnatomy.set(k, Number(index));
    }
  });

  test('left/right labels carry the Left/Right modifier, on the type or on the region', () => {
    for (const [index, e] of Object.entries(VISTA3D_LABEL_CODING)) {
      const side = /\bleft\b/.test(e.name) ? '7771000' : /\bright\b/.test(e.name) ? '24028007' : null;
      const modifier = e.typeModifier?.CodeValue ?? e.anatomicRegionModifier?.CodeValue;
      // pre-coordinated sided concepts (left atrial appendage, middle lobe of right lung) need no modifier
      const precoordinated = /\b(left|right)\b/i.test(e.type.CodeMeaning);
      if (side && !precoordinated) assert.equal(modifier, side, `label ${index} (${e.name}) lacks its ${side === '7771000' ? 'Left' : 'Right'} modifier`);
      if (!side) assert.equal(modifier, undefined, `label ${index} (${e.name}) has a laterality modifier but no side in its name`);
    }
  });

  test('segmentCoding: the table entry for a known index under its name; the generic Tissue otherwise', () => {
    assert.equal(segmentCoding(1, 'liver').type.CodeValue, '10200004');
    assert.equal(segmentCoding(1, ' Liver ').type.CodeMeaning, 'Liver');
    assert.equal(segmentCoding(14, 'left kidney').typeModifier?.CodeMeaning, 'Left');
    assert.equal(segmentCoding(116, 'left kidney cyst').anatomicRegionModifier?.CodeMeaning, 'Left');
    assert.deepEqual(segmentCoding(133, 'my nodule'), NEW_STRUCTURE_CODING);
    assert.deepEqual(segmentCoding(1, 'spleen'), NEW_STRUCTURE_CODING, 'another dictionary\'s label 1 is not coded as the liver');
    assert.equal(NEW_STRUCTURE_CODING.category.CodeMeaning, 'Tissue');
    assert.equal(Object.hasOwn(segmentCoding(1, 'liver'), 'typeModifier'), false, 'no undefined keys');
  });
});
