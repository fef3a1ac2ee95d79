/** Synthetic CT phantoms (Node entry `@vista3d/models/phantom`): generation and writing as NIfTI/NRRD/DICOM. */
export * from './generate.ts';
export * from './write.ts';
