import table from '../../vista3d/labels-coding.json';

/** One coded concept, named as the DICOM Code Sequence Macro names its attributes. */
export interface CodedConcept {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

/**
 * What a segment is, as DICOM Segmentation codes it: Segmented Property Category (CID 7150) and Type (CID 7151),
 * the type's laterality modifier (CID 244), and an anatomic region (with its laterality) for lesions and vessels
 * whose type alone does not say where they are.
 */
export interface SegmentCoding {
  category: CodedConcept;
  type: CodedConcept;
  typeModifier?: CodedConcept;
  anatomicRegion?: CodedConcept;
  anatomicRegionModifier?: CodedConcept;
}

export interface LabelCodingEntry extends SegmentCoding {
  name: string;
  source: string;
  note?: string;
}

/**
 * The SNOMED CT coding of VISTA3D's label dictionary (models/vista3d/labels-coding.json), keyed by VISTA3D's global
 * label index: one table for every model whose manifest uses that dictionary (models/vista3d, the phantom bundle).
 */
export const VISTA3D_LABEL_CODING: Readonly<Record<string, LabelCodingEntry>> = table.labels;

/** The generic coding of a structure the user named and segmented with clicks (a label the table does not know). */
export const NEW_STRUCTURE_CODING: SegmentCoding = { category: table.newStructure.category, type: table.newStructure.type };

/**
 * The coding of label `labelIndex` called `name` by the model: the table's entry when the table knows that index
 * under that name (case-insensitive), else the generic new-structure coding. Checking the name keeps a model with
 * another dictionary from being coded as VISTA3D's anatomy.
 */
export function segmentCoding(labelIndex: number, name: string): SegmentCoding {
  const entry = VISTA3D_LABEL_CODING[String(labelIndex)];
  if (!entry || entry.name.toLowerCase() !== name.trim().toLowerCase()) return NEW_STRUCTURE_CODING;
  const { category, type, typeModifier, anatomicRegion, anatomicRegionModifier } = entry;
  return { category, type, ...(typeModifier && { typeModifier }), ...(anatomicRegion && { anatomicRegion }), ...(anatomicRegionModifier && { anatomicRegionModifier }) };
}
