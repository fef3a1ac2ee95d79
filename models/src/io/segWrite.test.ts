import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import dicomParser from 'dicom-parser';
import { data as dcmjs } from 'dcmjs';
import { dciodvfy, dcmdump, PRE_2024_LABELMAP_ERRORS, pydicomSummary, validatorsMissing } from '../../test/support/dicomValidators.ts';
import type { Mat3, Vec3 } from '../geometry/volume.ts';
import { generatePhantom, type Phantom } from '../phantom/index.ts';
import { writeDicomSeries } from './dicomWrite.ts';
import { segmentCoding } from './segCoding.ts';
import { patientOrientation, SEGMENTATION_SOP_CLASSES, segmentationSopClass, writeSegmentation, type SegSegment, type SegSourceSeries, type WriteSegmentationOptions } from './segWrite.ts';

// ---------------------------------------------------------------------------------------------------------------
// Source series: the phantom written as CT slices, read back from its headers as the viewer has them

const rotation = (axis: 'x' | 'z', deg: number): number[][] => {
  const [c, s] = [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
  return axis === 'x' ? [[1, 0, 0], [0, c, -s], [0, s, c]] : [[c, -s, 0], [s, c, 0], [0, 0, 1]];
};
const matmul = (a: number[][], b: number[][]) => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));

type Geometry = 'axial' | 'sagittal' | 'oblique' | 'reverse';
const GEOMETRIES: Record<Geometry, { dims: Vec3; spacing: Vec3; direction?: Mat3; reverse?: boolean }> = {
  axial: { dims: [40, 32, 14], spacing: [7, 7, 9] },
  // rows along A→P, columns down, slices along −x; anisotropic in plane (as the viewer e2e's sagittal series)
  sagittal: { dims: [32, 24, 40], spacing: [7, 9, 7], direction: [0, 0, -1, 1, 0, 0, 0, -1, 0] },
  oblique: { dims: [40, 32, 14], spacing: [7, 7, 9], direction: matmul(rotation('x', 20), rotation('z', 15)).flat() as Mat3 },
  // InstanceNumber 1 (and the first file) is the last slice
  reverse: { dims: [40, 32, 14], spacing: [7, 7, 9], reverse: true },
};

interface Series {
  phantom: Phantom;
  source: SegSourceSeries;
  /** Per source image (file order), its labels row-major (the viewer's labelmap image for that image). */
  labels: Uint8Array[];
}

function series(geometry: Geometry): Series {
  const g = GEOMETRIES[geometry];
  const phantom = generatePhantom({ seed: 5, dims: g.dims, spacing: g.spacing, direction: g.direction, lesions: 1, noiseHU: 0, blurMm: 0 });
  const files = writeDicomSeries(phantom.image, { seed: `seg-${geometry}`, sliceOrder: g.reverse ? 'reverse' : 'forward', patientName: 'Phantom^SEG', patientId: 'SEG-1', date: new Date('2026-01-01T00:00:00Z') });
  const [nx, ny] = phantom.labels.dims;
  const str = (ds: dicomParser.DataSet, tag: string) => ds.string(tag) ?? '';
  const nums = (ds: dicomParser.DataSet, tag: string) => str(ds, tag).split('\\').map(Number);
  const parsed = files.map((f) => dicomParser.parseDicom(f.bytes));
  const ds0 = parsed[0];
  const source: SegSourceSeries = {
    studyInstanceUid: str(ds0, 'x0020000d'),
    seriesInstanceUid: str(ds0, 'x0020000e'),
    frameOfReferenceUid: str(ds0, 'x00200052'),
    patientName: str(ds0, 'x00100010'),
    patientId: str(ds0, 'x00100020'),
    studyDate: str(ds0, 'x00080020'),
    studyTime: str(ds0, 'x00080030'),
    studyId: '1',
    accessionNumber: '',
    images: parsed.map((ds) => ({
      sopClassUid: str(ds, 'x00080016'),
      sopInstanceUid: str(ds, 'x00080018'),
      imagePositionPatient: nums(ds, 'x00200032'),
      imageOrientationPatient: nums(ds, 'x00200037'),
      pixelSpacing: nums(ds, 'x00280030'),
      sliceThickness: Number(str(ds, 'x00180050')),
      rows: ds.uint16('x00280010')!,
      columns: ds.uint16('x00280011')!,
    })),
  };
  // file n holds k-slice (InstanceNumber order): forward k = n, reverse k = nz − 1 − n
  const nz = phantom.labels.dims[2];
  const labels = files.map((_, n) => {
    const k = g.reverse ? nz - 1 - n : n;
    return phantom.labels.data.slice(k * nx * ny, (k + 1) * nx * ny);
  });
  return { phantom, source, labels };
}

// ---------------------------------------------------------------------------------------------------------------
// The two results the viewer saves

const MODEL = { name: 'vista3d-phantom-small', version: '0.2.0' };
const NAMES: Record<number, string> = { 1: 'liver', 3: 'spleen', 5: 'right kidney', 6: 'aorta', 7: 'inferior vena cava', 12: 'stomach', 14: 'left kidney', 20: 'lung', 21: 'bone', 115: 'heart' };

function segment(labelIndex: number, label: string, algorithmType: SegSegment['algorithmType']): SegSegment {
  return {
    labelIndex,
    label,
    coding: segmentCoding(labelIndex, NAMES[labelIndex] ?? label),
    algorithmType,
    algorithmName: `VISTA3D ${MODEL.name} ${MODEL.version}`,
    algorithm: MODEL,
    color: [(labelIndex * 53) % 256, (labelIndex * 97) % 256, (labelIndex * 193) % 256],
  };
}

type Case = 'class prompt, multi-label' | 'click, single new structure';
/** Labels per image and the segments of one case: every phantom organ (AUTOMATIC), or one clicked structure. */
function result(s: Series, which: Case): { labels: Uint8Array[]; segments: SegSegment[] } {
  if (which === 'class prompt, multi-label') {
    const present = [...new Set(s.phantom.labels.data)].filter((v) => v && NAMES[v]).sort((a, b) => a - b);
    assert.ok(present.length >= 5, `the phantom holds ${present.length} named organs`);
    const keep = new Uint8Array(256);
    for (const l of present) keep[l] = l;
    return { labels: s.labels.map((l) => l.map((v) => keep[v])), segments: present.map((l) => segment(l, NAMES[l], 'AUTOMATIC')) };
  }
  // a click result: the liver's voxels as "new structure 133", named by the user
  return { labels: s.labels.map((l) => l.map((v) => (v === 1 ? 133 : 0))), segments: [segment(133, 'my liver lesion', 'SEMIAUTOMATIC')] };
}

const OPTIONS: WriteSegmentationOptions = {
  seriesDescription: `VISTA3D ${MODEL.name} ${MODEL.version}`,
  contentCreatorName: `VISTA3D^${MODEL.name} ${MODEL.version}`,
  contentDescription: 'test segmentation',
  equipment: { manufacturer: 'vista3d-ohif', manufacturerModelName: 'VISTA3D in OHIF', deviceSerialNumber: 'test', softwareVersions: '0.1.0' },
  seed: 'seg-test',
  date: new Date('2026-02-03T04:05:06Z'),
};

// ---------------------------------------------------------------------------------------------------------------
// Reading a SEG back, independently of the writer: dcmjs's parser, frames unpacked here

interface ReadSeg {
  dataset: Record<string, any>;
  /** Label value at each pixel of each source image (by SOPInstanceUID), rebuilt from the frames. */
  bySource: Map<string, Uint8Array>;
}

function readSeg(bytes: Uint8Array): ReadSeg {
  const dict = dcmjs.DicomMessage.readFile(new Uint8Array(bytes).buffer);
  const ds = dcmjs.DicomMetaDictionary.naturalizeDataset(dict.dict) as Record<string, any>;
  ds._meta = dcmjs.DicomMetaDictionary.naturalizeDataset(dict.meta);
  const rows: number = ds.Rows;
  const columns: number = ds.Columns;
  const n = rows * columns;
  const pixels = new Uint8Array(ds.PixelData[0]);
  const binary = ds.SegmentationType === 'BINARY';
  const labelOfSegment = new Map<number, number>((ds.SegmentSequence as any[]).map((s) => [s.SegmentNumber, segmentValue(s)]));
  const bySource = new Map<string, Uint8Array>();
  const frames: any[] = ds.PerFrameFunctionalGroupsSequence;
  assert.equal(frames.length, Number(ds.NumberOfFrames));
  frames.forEach((f, i) => {
    const uid: string = f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID;
    const out = bySource.get(uid) ?? new Uint8Array(n);
    bySource.set(uid, out);
    if (binary) {
      const value = labelOfSegment.get(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber)!;
      for (let p = 0; p < n; p++) {
        const k = i * n + p;
        if (pixels[k >> 3] & (1 << (k & 7))) {
          assert.equal(out[p], 0, `frame ${i}: pixel ${p} is in two segments`);
          out[p] = value;
        }
      }
    } else {
      for (let p = 0; p < n; p++) out[p] = labelOfSegment.get(pixels[i * n + p]) ?? 0;
    }
  });
  return { dataset: ds, bySource };
}

/** The VISTA3D label a segment stands for, from its label (test segments are named after the label map values). */
function segmentValue(s: any): number {
  if (s.SegmentNumber === 0) return 0;
  const byName = Object.entries(NAMES).find(([, name]) => name === s.SegmentLabel);
  return byName ? Number(byName[0]) : s.SegmentLabel === 'my liver lesion' ? 133 : -1;
}

const code = (seq: any) => (Array.isArray(seq) ? seq[0] : seq);

// ---------------------------------------------------------------------------------------------------------------

const skipValidators = validatorsMissing();
if (skipValidators && process.env.CI) throw new Error(`the SEG validator tests cannot run in CI: ${skipValidators}`);
/** VISTA3D_SEG_OUT=<folder> keeps the SEGs written (to inspect them, or to run another validator on them). */
const keep = process.env.VISTA3D_SEG_OUT;
const dir = keep ? (mkdirSync(keep, { recursive: true }), keep) : mkdtempSync(join(tmpdir(), 'vista3d-seg-'));
after(() => keep || rmSync(dir, { recursive: true, force: true }));

const warningsSeen = new Map<string, Set<string>>();

describe('writeSegmentation: DICOM SEG of label arrays on axial, sagittal, oblique and reversed series', () => {
  for (const geometry of Object.keys(GEOMETRIES) as Geometry[]) {
    const s = series(geometry);
    for (const which of ['class prompt, multi-label', 'click, single new structure'] as Case[]) {
      for (const sopClass of ['binary', 'labelmap'] as const) {
        const what = `${geometry}, ${which}, ${sopClass}`;
        const { labels, segments } = result(s, which);
        const file = writeSegmentation(s.source, labels, segments, { ...OPTIONS, sopClass });
        const path = join(dir, `${geometry}-${which.replace(/\W+/g, '-')}-${sopClass}.dcm`);
        writeFileSync(path, file.bytes);

        test(`${what}: reads back voxel for voxel at the source images' positions`, () => {
          const seg = readSeg(file.bytes);
          const ds = seg.dataset;
          assert.equal(ds.SOPClassUID, SEGMENTATION_SOP_CLASSES[sopClass]);
          assert.equal(ds._meta.MediaStorageSOPClassUID, SEGMENTATION_SOP_CLASSES[sopClass]);
          assert.ok(ds._meta.FileMetaInformationVersion, 'FileMetaInformationVersion');
          assert.equal(ds._meta.ImplementationVersionName, 'VISTA3D_OHIF_1');
          assert.equal(ds.StudyInstanceUID, s.source.studyInstanceUid);
          assert.equal(ds.FrameOfReferenceUID, s.source.frameOfReferenceUid);
          assert.notEqual(ds.SeriesInstanceUID, s.source.seriesInstanceUid);
          assert.equal(ds.Modality, 'SEG');
          const expectedFrames = sopClass === 'binary' ? segments.reduce((t, sg) => t + labels.filter((l) => l.includes(sg.labelIndex)).length, 0) : labels.filter((l) => l.some((v) => v)).length;
          assert.equal(Number(ds.NumberOfFrames), expectedFrames, 'one frame per (segment, image holding it) / per image holding any');
          s.source.images.forEach((image, n) => {
            const got = seg.bySource.get(image.sopInstanceUid) ?? new Uint8Array(labels[n].length);
            let differ = 0;
            labels[n].forEach((v, p) => (differ += got[p] === v ? 0 : 1));
            assert.equal(differ, 0, `${what}: image ${n}: ${differ} voxels differ`);
          });
          // every frame lies on its source image: same position, and the shared orientation is the source's
          const byUid = new Map(s.source.images.map((im) => [im.sopInstanceUid, im]));
          const shared = ds.SharedFunctionalGroupsSequence;
          assert.deepEqual(shared.PlaneOrientationSequence.ImageOrientationPatient.map(Number), [...s.source.images[0].imageOrientationPatient]);
          for (const f of ds.PerFrameFunctionalGroupsSequence) {
            const src = byUid.get(f.DerivationImageSequence.SourceImageSequence.ReferencedSOPInstanceUID)!;
            assert.deepEqual(f.PlanePositionSequence.ImagePositionPatient.map(Number), [...src.imagePositionPatient]);
            assert.equal(f.DerivationImageSequence.SourceImageSequence.ReferencedSOPClassUID, src.sopClassUid);
            assert.equal(code(f.DerivationImageSequence.SourceImageSequence.PurposeOfReferenceCodeSequence).CodeValue, '121322');
            assert.equal(code(f.DerivationImageSequence.DerivationCodeSequence).CodeValue, '113076');
            assert.ok(!f.PlaneOrientationSequence, 'plane orientation only in the shared group');
          }
        });

        test(`${what}: the segments carry their SNOMED CT coding and provenance`, () => {
          const ds = readSeg(file.bytes).dataset;
          const items = (Array.isArray(ds.SegmentSequence) ? ds.SegmentSequence : [ds.SegmentSequence]).filter((x: any) => x.SegmentNumber !== 0);
          assert.deepEqual(items.map((x: any) => x.SegmentLabel), segments.map((x) => x.label));
          for (const [i, item] of items.entries()) {
            const sg = segments[i];
            assert.equal(item.SegmentNumber, sopClass === 'binary' ? i + 1 : sg.labelIndex);
            assert.equal(item.SegmentAlgorithmType, sg.algorithmType);
            assert.equal(item.SegmentAlgorithmName, `VISTA3D ${MODEL.name} ${MODEL.version}`);
            assert.equal(code(item.SegmentedPropertyCategoryCodeSequence).CodeValue, sg.coding.category.CodeValue);
            assert.equal(code(item.SegmentedPropertyTypeCodeSequence).CodeValue, sg.coding.type.CodeValue);
            assert.equal(code(code(item.SegmentedPropertyTypeCodeSequence).SegmentedPropertyTypeModifierCodeSequence)?.CodeValue, sg.coding.typeModifier?.CodeValue);
            assert.equal(item.RecommendedDisplayCIELabValue.length, 3);
          }
          if (which === 'click, single new structure') assert.equal(code(items[0].SegmentedPropertyTypeCodeSequence).CodeMeaning, 'Tissue');
          else assert.ok(items.some((x: any) => code(x.SegmentedPropertyTypeCodeSequence).CodeMeaning === 'Liver'));
          assert.equal(ds.SeriesDescription, `VISTA3D ${MODEL.name} ${MODEL.version}`);
          assert.match(JSON.stringify(ds.ContentCreatorName), /VISTA3D/);
          assert.equal(ds.ManufacturerModelName, 'VISTA3D in OHIF');
          // clean decimal strings (no 0.95699999999999), dimensions declared = dimension values per frame
          const pm = ds.SharedFunctionalGroupsSequence.PixelMeasuresSequence;
          assert.ok(/^\d+(\.\d{1,8})?$/.test(String(pm.SliceThickness)), `SliceThickness ${pm.SliceThickness}`);
          const dims = Array.isArray(ds.DimensionIndexSequence) ? ds.DimensionIndexSequence.length : 1;
          for (const f of ds.PerFrameFunctionalGroupsSequence) assert.equal([f.FrameContentSequence.DimensionIndexValues].flat().length, dims);
        });

        test(`${what}: dciodvfy reports no error; dcmdump and pydicom parse it`, { skip: skipValidators ?? false }, () => {
          const report = dciodvfy(path);
          const errors = sopClass === 'labelmap' && !report.knowsSopClass ? report.errors.filter((e) => !PRE_2024_LABELMAP_ERRORS.includes(e)) : report.errors;
          assert.deepEqual(errors, [], `dciodvfy ${path}:\n${report.output}`);
          for (const w of report.warnings) (warningsSeen.get(w) ?? warningsSeen.set(w, new Set()).get(w)!).add(what);
          if (sopClass === 'labelmap' && !report.knowsSopClass) console.log(`${what}: this dciodvfy predates the label-map SOP class; only its generic checks ran (set DCIODVFY to a 2024+ build for the IOD checks)`);
          const dump = dcmdump(path);
          assert.ok(dump.ok, `dcmdump: ${dump.errors.join('; ')}`);
          assert.match(dump.dump, /\(0062,0002\) SQ/, 'dcmdump shows the Segment Sequence');
          const py = pydicomSummary(path);
          assert.equal(py.sopClassUid, SEGMENTATION_SOP_CLASSES[sopClass]);
          const seg = readSeg(file.bytes);
          assert.equal(py.frames, Number(seg.dataset.NumberOfFrames));
          // pydicom's own pixel decoding agrees with ours, frame by frame
          const n = py.rows * py.columns;
          const pixels = new Uint8Array(seg.dataset.PixelData[0]);
          py.nonzero.forEach((count, i) => {
            let ours = 0;
            for (let p = 0; p < n; p++) {
              const k = i * n + p;
              ours += sopClass === 'binary' ? (pixels[k >> 3] >> (k & 7)) & 1 : pixels[k] ? 1 : 0;
            }
            assert.equal(count, ours, `frame ${i}: pydicom sees ${count} set pixels, we wrote ${ours}`);
          });
        });
      }
    }
  }

  after(() => {
    if (warningsSeen.size) console.log(`dciodvfy warnings:\n${[...warningsSeen].map(([w, cases]) => `  ${w} (${cases.size} SEGs)`).join('\n')}`);
  });
});

describe('writeSegmentation: arguments checked, with the bad value in the message', () => {
  const s = series('axial');
  const { labels, segments } = result(s, 'click, single new structure');
  test('Patient Orientation letters of the row and column cosines, largest component first', () => {
    assert.deepEqual(patientOrientation([1, 0, 0, 0, 1, 0]), ['L', 'P']);
    assert.deepEqual(patientOrientation([0, 1, 0, 0, 0, -1]), ['P', 'F'], 'sagittal');
    assert.deepEqual(patientOrientation([-1, 0, 0, 0, 0, -1]), ['R', 'F'], 'coronal');
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    assert.deepEqual(patientOrientation([c, s, 0, -s, c, 1e-5]), ['LP', 'PR'], 'oblique; components under 1e-4 left out');
  });
  test('SOP class names: binary (default) and labelmap; anything else lists them', () => {
    assert.equal(segmentationSopClass(undefined), 'binary');
    assert.equal(segmentationSopClass('labelmap'), 'labelmap');
    assert.throws(() => segmentationSopClass('fractional'), /"fractional".*binary, labelmap/);
  });
  test('label arrays must match the images', () => {
    assert.throws(() => writeSegmentation(s.source, labels.slice(1), segments, OPTIONS), /13 label arrays for 14 source images/);
    assert.throws(() => writeSegmentation(s.source, [labels[0].subarray(1), ...labels.slice(1)], segments, OPTIONS), /has 1279 values, not 32×40/);
  });
  test('segments: an index in 1…255, once; a name; an algorithm name unless MANUAL', () => {
    assert.throws(() => writeSegmentation(s.source, labels, [{ ...segments[0], labelIndex: 0 }], OPTIONS), /labelIndex 0/);
    assert.throws(() => writeSegmentation(s.source, labels, [segments[0], segments[0]], OPTIONS), /used by two segments/);
    assert.throws(() => writeSegmentation(s.source, labels, [{ ...segments[0], algorithmName: undefined }], OPTIONS), /needs an algorithmName/);
  });
  test('an image with another orientation is refused, naming it', () => {
    const images = s.source.images.map((im, n) => (n === 3 ? { ...im, imageOrientationPatient: [0, 1, 0, 1, 0, 0] } : im));
    assert.throws(() => writeSegmentation({ ...s.source, images }, labels, segments, OPTIONS), /source image 3 .*ImageOrientationPatient 0\\1\\0\\1\\0\\0/);
  });
  test('nothing to save is an error, not an empty SEG', () => {
    assert.throws(() => writeSegmentation(s.source, labels.map((l) => new Uint8Array(l.length)), segments, OPTIONS), /no voxel of any segment/);
  });
  test('same seed and date, same bytes; label values no segment describes are left out', () => {
    const a = writeSegmentation(s.source, labels, segments, OPTIONS);
    assert.deepEqual(writeSegmentation(s.source, labels, segments, OPTIONS).bytes, a.bytes);
    const stray = labels.map((l) => l.map((v, p) => (v ? v : p % 97 === 0 ? 7 : 0)));
    for (const sopClass of ['binary', 'labelmap'] as const) {
      const back = readSeg(writeSegmentation(s.source, stray, segments, { ...OPTIONS, sopClass }).bytes).bySource;
      for (const l of back.values()) assert.ok(!l.includes(7), `${sopClass}: an undescribed value was written`);
    }
  });
});
