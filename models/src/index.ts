/** @vista3d/models — volumes, geometry, readers/writers and the VISTA3D inference pipeline (isomorphic). */
export * from './errors.ts';
export * from './geometry/volume.ts';
export * from './geometry/modelGrid.ts';
export * from './io/limits.ts';
export * from './io/nifti.ts';
export * from './io/nrrd.ts';
export * from './io/dicom.ts';
export * from './io/format.ts';
export * from './pipeline/manifest.ts';
export * from './pipeline/bundle.ts';
export * from './pipeline/prompts.ts';
export * from './pipeline/segment.ts';
export * from './pipeline/work.ts';
export type { JobView } from './jobs.ts';
export type { Backend, BackendOptions, GraphSession, TensorData } from './backend/types.ts';
export { deviceCandidates, DEVICE_TABLE } from './backend/devices.ts';
export * from './geometry/sliceStack.ts';
export * from './geometry/region.ts';
