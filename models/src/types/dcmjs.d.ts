/** The few members of dcmjs (which ships no type declarations) that this project uses. */
declare module 'dcmjs' {
  interface DicomDictionary {
    meta: Record<string, { vr: string; Value: unknown[] }>;
    dict: Record<string, { vr: string; Value: unknown[] }>;
    upsertTag(tag: string, vr: string, values: unknown[]): void;
    write(): ArrayBuffer;
  }
  export const data: {
    DicomDict: new (meta: object) => DicomDictionary;
    DicomMetaDictionary: {
      denaturalizeDataset(dataset: object): Record<string, { vr: string; Value: unknown[] }>;
      naturalizeDataset(dataset: object): Record<string, unknown>;
    };
    DicomMessage: { readFile(buffer: ArrayBuffer): DicomDictionary };
    /** sRGB (0…1) ↔ DICOM's scaled CIELab (0…65535). */
    Colors: { rgb2DICOMLAB(rgb: number[]): number[] };
  };
}
