import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import dicomParser from 'dicom-parser';
import { data as dcmjs } from 'dcmjs';
import type { Mat3, Vec3, Volume } from '@vista3d/models';
import { writeDicomSeries } from '../../../models/src/io/dicomWrite.ts';
import { dciodvfy, validatorsMissing } from '../../../models/test/support/dicomValidators.ts';
import { createStore } from '../state/store.ts';
import { applyResult } from './applyResult.ts';
import type { CommandContext, CornerstoneLike } from './context.ts';
import { getCommandsModule } from './index.ts';
import { COMMANDS } from './names.ts';
import { buildSegmentation, configuredSopClass, downloadSegmentation, recordSegmentOrigin, saveSegmentation } from './saveSegmentation.ts';

/**
 * A viewer made of stubs around a real CT series (written as DICOM, read back with dicom-parser as the viewer's
 * metadata provider has it), displayed in REVERSE slice order, with OHIF's stack labelmap: one labelmap image per
 * source image. The labelmap holds a box of liver (1) and spleen (3) and a clicked new structure (133).
 */
function viewer(direction: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]) {
  const dims: Vec3 = [12, 10, 6];
  const grid: Volume<Int16Array> = { data: new Int16Array(12 * 10 * 6), dims, spacing: [1.5, 2, 3], direction, origin: [-10, 20, 30] };
  const files = writeDicomSeries(grid, { seed: 'save-test', patientName: 'Test^Save', patientId: 'SAVE-1', date: new Date('2026-01-01T00:00:00Z') });
  const parsed = files.map((f) => dicomParser.parseDicom(f.bytes));
  const str = (ds: dicomParser.DataSet, t: string) => ds.string(t) ?? '';
  const nums = (ds: dicomParser.DataSet, t: string) => str(ds, t).split('\\').map(Number);
  // display order reversed: imageIds[n] is k-slice nz − 1 − n
  const imageIds = parsed.map((_, n) => `wadors:img/${dims[2] - 1 - n}`);
  const kOf = (id: string) => Number(id.split('/')[1]);
  const meta = (type: string, id: string) => {
    const ds = parsed[kOf(id)];
    if (!ds) return undefined;
    if (type === 'imagePlaneModule') {
      const o = nums(ds, 'x00200037');
      const ps = nums(ds, 'x00280030');
      return { rows: ds.uint16('x00280010'), columns: ds.uint16('x00280011'), imagePositionPatient: nums(ds, 'x00200032'), rowCosines: o.slice(0, 3), columnCosines: o.slice(3), rowPixelSpacing: ps[0], columnPixelSpacing: ps[1], frameOfReferenceUID: str(ds, 'x00200052') };
    }
    if (type === 'instance') {
      // naturalized DICOM JSON, Person Names as { Alphabetic }, as OHIF's DicomMetadataStore holds instances
      return {
        SOPClassUID: str(ds, 'x00080016'),
        SOPInstanceUID: str(ds, 'x00080018'),
        StudyInstanceUID: str(ds, 'x0020000d'),
        SeriesInstanceUID: str(ds, 'x0020000e'),
        FrameOfReferenceUID: str(ds, 'x00200052'),
        PatientName: [{ Alphabetic: str(ds, 'x00100010') }],
        PatientID: str(ds, 'x00100020'),
        StudyDate: str(ds, 'x00080020'),
        StudyTime: str(ds, 'x00080030'),
        StudyID: '7',
        AccessionNumber: 'A-1',
        SliceThickness: Number(str(ds, 'x00180050')),
      };
    }
    return undefined;
  };
  const images = new Map(imageIds.map((id) => [`lm:${id}`, new Uint8Array(dims[0] * dims[1])]));
  const segments: Record<number, { label: string } | undefined> = {};
  const segmentation = { representationData: { Labelmap: { imageIds: imageIds.map((id) => `lm:${id}`), referencedImageIds: imageIds } }, segments };
  const cs: CornerstoneLike = {
    metaData: { get: meta },
    cache: { getImage: (id: string) => (images.has(id) ? { voxelManager: { getScalarData: () => images.get(id)!, setScalarData: () => undefined } } : undefined) },
    triggerSegmentationDataModified: () => undefined,
  };
  const ds = { displaySetInstanceUID: 'ds1', StudyInstanceUID: str(parsed[0], 'x0020000d'), SeriesInstanceUID: str(parsed[0], 'x0020000e'), Modality: 'CT', imageIds };
  const services = {
    viewportGridService: { getState: () => ({ activeViewportId: 'vp1', viewports: new Map([['vp1', { displaySetInstanceUIDs: ['ds1'] }]]) }) },
    displaySetService: { getDisplaySetByUID: () => ds },
    segmentationService: {
      createLabelmapForDisplaySet: async () => 'seg1',
      addSegmentationRepresentation: async () => undefined,
      getSegmentation: (id: string) => (id === 'seg1' ? segmentation : undefined),
      addSegment: (_id: string, cfg: { segmentIndex: number; label: string }) => void (segments[cfg.segmentIndex] = { label: cfg.label }),
      removeSegment: (_id: string, i: number) => void delete segments[i],
    },
  };
  const store = createStore();
  store.set({
    server: {
      status: 'ready',
      info: {
        model: { name: 'vista3d-phantom-small', version: '0.2.0', description: '' },
        labels: { liver: 1, spleen: 3 },
        label_dictionary: { '1': 'liver', '2': 'kidney', '3': 'spleen', '14': 'left kidney' },
        everything: [1, 3],
        subclasses: {},
        no_point_prompts: [],
        device: 'cpu',
        version: '0',
        supported_formats: [],
        not_processed_value: 255,
        zero_shot_from: 133,
      },
    },
  });
  const stored: ArrayBuffer[] = [];
  const extensionManager = { getActiveDataSource: () => [{ store: { dicom: async (d: unknown) => void stored.push(d as ArrayBuffer) } }] };
  const module = getCommandsModule({ servicesManager: { services }, commandsManager: { runCommand: () => undefined }, extensionManager, store, context: { cs: () => cs } });
  const ctx = (module as unknown as { context: CommandContext }).context;
  /** The expected label at each labelmap pixel, by k-slice: liver box, spleen box, new structure 133. */
  const expected = (k: number, r: number, c: number) => (k >= 1 && k <= 3 && r >= 2 && r <= 5 && c >= 1 && c <= 4 ? 1 : k >= 2 && k <= 4 && r >= 6 && c >= 7 ? 3 : k === 5 && r === 0 && c < 3 ? 133 : 0);
  /** Writes results the way the server's answers arrive: a class prompt (liver, spleen), then a click on 133. */
  async function segment() {
    const full = (fn: (k: number, r: number, c: number) => number, outside: number) => {
      const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
      for (let k = 0; k < dims[2]; k++) for (let r = 0; r < dims[1]; r++) for (let c = 0; c < dims[0]; c++) labels[c + dims[0] * (r + dims[1] * k)] = fn(k, r, c);
      return { labels: { ...grid, data: labels }, lo: [0, 0, 0] as Vec3, hi: dims, outside };
    };
    await applyResult(ctx, ds, full((k, r, c) => (expected(k, r, c) === 133 ? 0 : expected(k, r, c)), 0), { kind: 'classes', labels: new Set([1, 3]) });
    await applyResult(ctx, ds, full((k, r, c) => (expected(k, r, c) === 133 ? 133 : 255), 255), { kind: 'point', label: 133 });
    segments[133] = { label: 'my nodule' }; // renamed by the user
  }
  return { ctx, module, store, stored, extensionManager, segment, expected, cs, imageIds, kOf, grid };
}

/** Labels at every pixel of every source image, by SOPInstanceUID, decoded from a SEG here (dcmjs parse, bits unpacked). */
function decode(buffer: ArrayBuffer) {
  const dict = dcmjs.DicomMessage.readFile(buffer);
  const ds = dcmjs.DicomMetaDictionary.naturalizeDataset(dict.dict) as Record<string, any>;
  const n = ds.Rows * ds.Columns;
  const px = new Uint8Array(ds.PixelData[0]);
  const seq = [ds.SegmentSequence].flat();
  const frames = [ds.PerFrameFunctionalGroupsSequence].flat();
  const bySource = new Map<string, { position: number[]; labels: Uint8Array }>();
  frames.forEach((f: any, i: number) => {
    const uid = [[f.DerivationImageSequence].flat()[0].SourceImageSequence].flat()[0].ReferencedSOPInstanceUID;
    const e = bySource.get(uid) ?? { position: [f.PlanePositionSequence].flat()[0].ImagePositionPatient.map(Number), labels: new Uint8Array(n) };
    bySource.set(uid, e);
    if (ds.SegmentationType === 'BINARY') {
      const segNo = [f.SegmentIdentificationSequence].flat()[0].ReferencedSegmentNumber;
      const label = seq.find((s: any) => s.SegmentNumber === segNo).SegmentLabel;
      const value = label === 'liver' ? 1 : label === 'spleen' ? 3 : 133;
      for (let p = 0; p < n; p++) if (px[(i * n + p) >> 3] & (1 << ((i * n + p) & 7))) e.labels[p] = value;
    } else for (let p = 0; p < n; p++) e.labels[p] = px[i * n + p];
  });
  return { ds, seq, bySource };
}

/** Each source image's labels, at that image's position (header values), voxel for voxel; slices without labels have no frame. */
function assertOnSourceImages(v: ReturnType<typeof viewer>, bySource: ReturnType<typeof decode>['bySource']) {
  const [nx, ny] = v.grid.dims;
  for (const id of v.imageIds) {
    const inst = v.cs.metaData.get('instance', id);
    const plane = v.cs.metaData.get('imagePlaneModule', id);
    const k = v.kOf(id);
    const got = bySource.get(inst.SOPInstanceUID);
    const want = Uint8Array.from({ length: nx * ny }, (_, p) => v.expected(k, Math.floor(p / nx), p % nx));
    if (!got) {
      assert.ok(want.every((x) => x === 0), `slice ${k} holds labels but no frame references it`);
      continue;
    }
    assert.deepEqual(got.position, plane.imagePositionPatient, `slice ${k}: frame position`);
    assert.deepEqual([...got.labels], [...want], `slice ${k}`);
  }
}

const skipValidators = validatorsMissing();
const dir = mkdtempSync(join(tmpdir(), 'vista3d-save-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('saving the VISTA3D segmentation as DICOM SEG', () => {
  test('Save stores, through the data source, a binary SEG of the labelmap: voxels on the source images, coded, with provenance', async () => {
    const v = viewer();
    await v.segment();
    await v.module.actions[COMMANDS.saveSegmentation]({});
    assert.equal(v.store.get().error, null);
    assert.equal(v.store.get().notice, 'Saved to the PACS as DICOM SEG (binary, 3 segments).');
    assert.equal(v.stored.length, 1);
    assert.ok(v.stored[0] instanceof ArrayBuffer, 'the Part 10 bytes go to store.dicom as they are');
    const { ds, seq, bySource } = decode(v.stored[0]);
    assert.equal(ds.SOPClassUID, '1.2.840.10008.5.1.4.1.1.66.4');
    assert.equal(ds.SeriesDescription, 'VISTA3D vista3d-phantom-small 0.2.0');
    assert.equal(ds.PatientName?.[0]?.Alphabetic ?? ds.PatientName, 'Test^Save');
    assert.equal(ds.StudyID, '7');
    assert.equal(ds.AccessionNumber, 'A-1');
    assert.deepEqual(seq.map((s: any) => [s.SegmentNumber, s.SegmentLabel, s.SegmentAlgorithmType, s.SegmentAlgorithmName]), [
      [1, 'liver', 'AUTOMATIC', 'VISTA3D vista3d-phantom-small 0.2.0'],
      [2, 'spleen', 'AUTOMATIC', 'VISTA3D vista3d-phantom-small 0.2.0'],
      [3, 'my nodule', 'SEMIAUTOMATIC', 'VISTA3D vista3d-phantom-small 0.2.0'],
    ]);
    const typeOf = (s: any) => [s.SegmentedPropertyTypeCodeSequence].flat()[0];
    assert.deepEqual(seq.map((s: any) => typeOf(s).CodeMeaning), ['Liver', 'Spleen', 'Tissue']);
    assert.deepEqual(seq.map((s: any) => typeOf(s).CodeValue), ['10200004', '78961009', '85756007']);
    assertOnSourceImages(v, bySource);
  });

  test('the SEG written from the viewer passes dciodvfy', { skip: skipValidators ?? false }, async () => {
    for (const direction of [[1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, -1, 1, 0, 0, 0, -1, 0]] as Mat3[]) {
      const v = viewer(direction);
      await v.segment();
      const { file } = buildSegmentation(v.ctx, { appConfig: {} });
      const path = join(dir, `viewer-${direction.join('')}.dcm`);
      writeFileSync(path, file.bytes);
      const report = dciodvfy(path);
      assert.deepEqual(report.errors, [], report.output);
      assert.deepEqual(report.warnings, [], report.output);
    }
  });

  test('window.config.vista3d.segSopClass picks the label-map class; an unknown value is an error listing the valid ones', async () => {
    assert.equal(configuredSopClass(undefined), 'binary');
    assert.equal(configuredSopClass({ vista3d: {} }), 'binary');
    assert.equal(configuredSopClass({ vista3d: { segSopClass: 'labelmap' } }), 'labelmap');
    assert.throws(() => configuredSopClass({ vista3d: { segSopClass: 'bitmap' } }), /segSopClass: unknown DICOM SEG class "bitmap": use one of binary, labelmap/);
    const v = viewer();
    await v.segment();
    await saveSegmentation(v.ctx, v.extensionManager, { appConfig: { vista3d: { segSopClass: 'labelmap' } } });
    const { ds, seq, bySource } = decode(v.stored[0]);
    assert.equal(ds.SOPClassUID, '1.2.840.10008.5.1.4.1.1.66.7');
    assert.deepEqual(seq.map((s: any) => s.SegmentNumber), [0, 1, 3, 133], 'segment numbers are the label values (0: background)');
    const total = [...bySource.values()].reduce((t, e) => t + e.labels.filter((x) => x === 133).length, 0);
    assert.equal(total, 3);
    assert.match(v.store.get().notice ?? '', /label map, 3 segments/);
  });

  test('a label a click edited after its class prompt is SEMIAUTOMATIC; a class prompt after clicks makes it AUTOMATIC again', async () => {
    const v = viewer();
    await v.segment();
    recordSegmentOrigin(v.ctx, 'seg1', [1], 'point');
    const kinds = () => buildSegmentation(v.ctx, { appConfig: {} }).segments.map((s) => `${s.label}:${s.algorithmType}`);
    assert.deepEqual(kinds(), ['liver:SEMIAUTOMATIC', 'spleen:AUTOMATIC', 'my nodule:SEMIAUTOMATIC']);
    recordSegmentOrigin(v.ctx, 'seg1', [1], 'classes');
    assert.deepEqual(kinds(), ['liver:AUTOMATIC', 'spleen:AUTOMATIC', 'my nodule:SEMIAUTOMATIC']);
  });

  test('Download hands the same SEG to the browser as a file', async () => {
    const v = viewer();
    await v.segment();
    const saved: { name: string; bytes: Uint8Array }[] = [];
    downloadSegmentation(v.ctx, {}, { appConfig: {}, save: (f) => void saved.push(f), now: () => new Date('2026-03-01T00:00:00Z') });
    assert.equal(saved.length, 1);
    assert.match(saved[0].name, /^VISTA3D-seg-\d+\.dcm$/);
    assert.equal(decode(new Uint8Array(saved[0].bytes).buffer).ds.Modality, 'SEG');
    assert.match(v.store.get().notice ?? '', /^Downloaded DICOM SEG \(binary, 3 segments\)/);
  });

  test('nothing to save, or a bad setting: a plain-words error in the panel, nothing stored', async () => {
    const v = viewer();
    await v.module.actions[COMMANDS.saveSegmentation]({});
    assert.equal(v.store.get().error, 'There is no VISTA3D segmentation to save yet.');
    await v.segment();
    (globalThis as { config?: unknown }).config = { vista3d: { segSopClass: 'fractional' } };
    try {
      await v.module.actions[COMMANDS.saveSegmentation]({});
    } finally {
      delete (globalThis as { config?: unknown }).config;
    }
    assert.match(v.store.get().error ?? '', /segSopClass: unknown DICOM SEG class "fractional"/);
    assert.equal(v.stored.length, 0);
  });

  test('an oblique series: frames on the source images, voxel for voxel', async () => {
    const [c, s] = [Math.cos(0.3), Math.sin(0.3)];
    const v = viewer([c, -s, 0, s, c, 0, 0, 0, 1]);
    await v.segment();
    assertOnSourceImages(v, decode(new Uint8Array(buildSegmentation(v.ctx, { appConfig: {} }).file.bytes).buffer).bySource);
  });
});
