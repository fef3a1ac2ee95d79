import {
  segmentationSopClass,
  segmentCoding,
  writeSegmentation,
  type DicomFile,
  type SegmentAlgorithmType,
  type SegmentationSopClass,
  type SegSegment,
  type SegSourceImage,
  type SegSourceSeries,
} from '@vista3d/models';
import pkg from '../../package.json';
import { labelColor } from '../geometry/merge.ts';
import type { CommandContext, CornerstoneLike } from './context.ts';
import { modelInfo } from '../state/store.ts';

/**
 * Where each label of a segmentation came from, per command context and segmentation: a class prompt (AUTOMATIC)
 * or clicks (SEMIAUTOMATIC). applyResult records every result it writes; the last one for a label wins, as in the
 * labelmap (a class prompt replaces the label, a click edits it).
 */
const origins = new WeakMap<CommandContext, Map<string, Map<number, SegmentAlgorithmType>>>();

export function recordSegmentOrigin(ctx: CommandContext, segmentationId: string, labels: Iterable<number>, kind: 'classes' | 'point'): void {
  const bySegmentation = origins.get(ctx) ?? origins.set(ctx, new Map()).get(ctx)!;
  const byLabel = bySegmentation.get(segmentationId) ?? bySegmentation.set(segmentationId, new Map()).get(segmentationId)!;
  for (const label of labels) byLabel.set(label, kind === 'classes' ? 'AUTOMATIC' : 'SEMIAUTOMATIC');
}

function algorithmTypeOf(ctx: CommandContext, segmentationId: string, label: number): SegmentAlgorithmType {
  return origins.get(ctx)?.get(segmentationId)?.get(label) ?? (label >= (modelInfo(ctx.store.get())?.zero_shot_from ?? Infinity) ? 'SEMIAUTOMATIC' : 'AUTOMATIC');
}

/**
 * The SEG class to write, from the viewer's app config (`window.config.vista3d.segSopClass`: 'binary', the
 * default and the class every PACS and viewer reads, or 'labelmap', DICOM 2024's Label Map Segmentation).
 */
export function configuredSopClass(appConfig: unknown = (globalThis as { config?: unknown }).config): SegmentationSopClass {
  const value = (appConfig as { vista3d?: { segSopClass?: unknown } } | undefined)?.vista3d?.segSopClass;
  try {
    return segmentationSopClass(value ?? 'binary');
  } catch (e) {
    throw new Error(`window.config.vista3d.segSopClass: ${(e as Error).message}`);
  }
}

export interface SegmentationDeps {
  /** `window.config` (the SEG class setting); default the page's. */
  appConfig?: unknown;
  /** Creation time written into the SEG; default now. */
  now?: () => Date;
}

function segmentationOrThrow(ctx: CommandContext): string {
  const id = ctx.store.get().segmentationId;
  if (!id) throw new Error('There is no VISTA3D segmentation to save yet.');
  return id;
}

/** A DICOM string value as the viewer's metadata gives it: plain, or a Person Name object ({ Alphabetic }). */
function text(v: unknown): string | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined || one === null) return undefined;
  if (typeof one === 'object') return (one as { Alphabetic?: string }).Alphabetic;
  return String(one);
}

/** The source image of a labelmap image: plane geometry (imagePlaneModule, as applyResult reads it) and UIDs. */
function sourceImage(cs: CornerstoneLike, imageId: string): { image: SegSourceImage; instance: Record<string, unknown> } {
  const plane = cs.metaData.get('imagePlaneModule', imageId);
  const instance = (cs.metaData.get('instance', imageId) ?? {}) as Record<string, unknown>;
  const sop = cs.metaData.get('sopCommonModule', imageId) ?? {};
  const sopClassUid = text(instance.SOPClassUID) ?? sop.sopClassUID;
  const sopInstanceUid = text(instance.SOPInstanceUID) ?? sop.sopInstanceUID;
  if (!plane?.imagePositionPatient || !plane.rowCosines || !sopClassUid || !sopInstanceUid) throw new Error(`The viewer has no geometry or UIDs for image ${imageId}: the SEG cannot reference it.`);
  const thickness = Number(text(instance.SliceThickness) ?? plane.sliceThickness);
  return {
    image: {
      sopClassUid,
      sopInstanceUid,
      imagePositionPatient: [...plane.imagePositionPatient].map(Number),
      imageOrientationPatient: [...plane.rowCosines, ...plane.columnCosines].map(Number),
      pixelSpacing: [Number(plane.rowPixelSpacing), Number(plane.columnPixelSpacing)],
      ...(thickness > 0 && { sliceThickness: thickness }),
      rows: plane.rows,
      columns: plane.columns,
    },
    instance,
  };
}

/**
 * Builds the DICOM SEG of the VISTA3D segmentation: its labelmap images (one per source image, OHIF's stack
 * labelmap), each segment coded from the model's label table (SNOMED CT; new structures: Tissue, with the user's
 * name), AUTOMATIC for class prompts and SEMIAUTOMATIC for clicks, algorithm "VISTA3D <model> <version>".
 */
export function buildSegmentation(ctx: CommandContext, deps: SegmentationDeps = {}): { file: DicomFile; sopClass: SegmentationSopClass; segments: SegSegment[] } {
  const sopClass = configuredSopClass(deps.appConfig);
  const segmentationId = segmentationOrThrow(ctx);
  const info = modelInfo(ctx.store.get());
  if (!info) throw new Error('The VISTA3D server is not ready (and no model is loaded in this browser): the SEG needs the model\'s name and labels.');
  const seg = ctx.services.segmentationService.getSegmentation(segmentationId);
  const lm = seg?.representationData?.Labelmap;
  if (!lm?.imageIds?.length) throw new Error('The VISTA3D segmentation has no labelmap images.');
  const imageIds: string[] = lm.imageIds;
  const referenced: string[] = lm.referencedImageIds ?? [];
  if (referenced.length !== imageIds.length) throw new Error(`The VISTA3D segmentation has ${imageIds.length} labelmap images for ${referenced.length} source images.`);
  const cs = ctx.cs();

  const present = new Set<number>();
  const labels = imageIds.map((id) => {
    const data = cs.cache.getImage(id)?.voxelManager.getScalarData();
    if (!data) throw new Error(`labelmap image ${id} is not in the cache`);
    const copy = Uint8Array.from(data as ArrayLike<number>);
    for (const v of copy) if (v) present.add(v);
    return copy;
  });
  const sources = referenced.map((id) => sourceImage(cs, id));
  const first = sources[0].instance;
  const source: SegSourceSeries = {
    studyInstanceUid: text(first.StudyInstanceUID) ?? '',
    seriesInstanceUid: text(first.SeriesInstanceUID) ?? '',
    frameOfReferenceUid: text(first.FrameOfReferenceUID) ?? cs.metaData.get('imagePlaneModule', referenced[0])?.frameOfReferenceUID ?? '',
    patientName: text(first.PatientName),
    patientId: text(first.PatientID),
    patientBirthDate: text(first.PatientBirthDate),
    patientSex: text(first.PatientSex),
    studyDate: text(first.StudyDate),
    studyTime: text(first.StudyTime),
    studyId: text(first.StudyID),
    accessionNumber: text(first.AccessionNumber),
    referringPhysicianName: text(first.ReferringPhysicianName),
    images: sources.map((s) => s.image),
  };

  const model = `${info.model.name} ${info.model.version}`;
  const segments: SegSegment[] = Object.entries((seg.segments ?? {}) as Record<string, { label?: string } | undefined>)
    .map(([index, s]) => [Number(index), s?.label?.trim()] as const)
    .filter(([index, label]) => present.has(index) && label)
    .map(([index, label]) => {
      const known = index < info.zero_shot_from ? info.label_dictionary[String(index)] : undefined;
      return {
        labelIndex: index,
        label: label!,
        coding: segmentCoding(index, known ?? ''),
        algorithmType: algorithmTypeOf(ctx, segmentationId, index),
        algorithmName: `VISTA3D ${model}`,
        algorithm: { name: `VISTA3D ${info.model.name}`, version: info.model.version },
        color: labelColor(index).slice(0, 3),
      };
    });
  if (!segments.length) throw new Error('The VISTA3D segmentation has no named segment with voxels: there is nothing to save.');
  const kinds = (type: SegmentAlgorithmType) => segments.filter((s) => s.algorithmType === type).map((s) => s.label);
  const made = [kinds('AUTOMATIC').length && `${kinds('AUTOMATIC').join(', ')} (class prompts)`, kinds('SEMIAUTOMATIC').length && `${kinds('SEMIAUTOMATIC').join(', ')} (clicks)`].filter(Boolean).join('; ');
  const file = writeSegmentation(source, labels, segments, {
    sopClass,
    seriesDescription: `VISTA3D ${model}`,
    contentCreatorName: `VISTA3D^${model}`,
    contentDescription: made,
    contentLabel: 'VISTA3D',
    equipment: { manufacturer: 'vista3d-ohif', manufacturerModelName: 'VISTA3D in OHIF', deviceSerialNumber: model, softwareVersions: `${pkg.name} ${pkg.version}` },
    date: (deps.now ?? (() => new Date()))(),
  });
  return { file, sopClass, segments };
}

const describeSaved = (sopClass: SegmentationSopClass, n: number) => `DICOM SEG (${sopClass === 'binary' ? 'binary' : 'label map'}, ${n} segment${n === 1 ? '' : 's'})`;

/** The DICOM SEG of the results, stored to the study's PACS by STOW-RS through the active data source. */
export async function saveSegmentation(
  ctx: CommandContext,
  extensionManager: { getActiveDataSource(): { store: { dicom(ds: unknown): Promise<unknown> } }[] },
  deps: SegmentationDeps = {},
): Promise<void> {
  const { file, sopClass, segments } = buildSegmentation(ctx, deps);
  const bytes = file.bytes.buffer.slice(file.bytes.byteOffset, file.bytes.byteOffset + file.bytes.byteLength);
  await extensionManager.getActiveDataSource()[0].store.dicom(bytes);
  ctx.store.set({ notice: `Saved to the PACS as ${describeSaved(sopClass, segments.length)}.` });
}

/** Hands a file to the browser as a download. */
function browserDownload(file: DicomFile): void {
  const url = URL.createObjectURL(new Blob([new Uint8Array(file.bytes)], { type: 'application/dicom' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: file.name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The same DICOM SEG, downloaded as a Part 10 file. */
export function downloadSegmentation(ctx: CommandContext, _args?: unknown, deps: SegmentationDeps & { save?: (file: DicomFile) => void } = {}): void {
  const { file, sopClass, segments } = buildSegmentation(ctx, deps);
  (deps.save ?? browserDownload)({ ...file, name: `VISTA3D-${file.name}` });
  ctx.store.set({ notice: `Downloaded ${describeSaved(sopClass, segments.length)}.` });
}
