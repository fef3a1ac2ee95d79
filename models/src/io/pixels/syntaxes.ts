/**
 * The transfer syntaxes the DICOM reader reads, with the codec that decodes each one. Every encapsulated syntax
 * is explicit VR little endian around its pixel data.
 */

/** How the pixel data of a syntax is stored: as it is, or encapsulated and compressed with one of the codecs. */
export type Codec = 'native' | 'rle' | 'jpeg-lossless' | 'jpeg-baseline' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

export interface TransferSyntax {
  uid: string;
  /** The name PS3.6 gives it, shortened. */
  name: string;
  codec: Codec;
  bigEndian: boolean;
  /**
   * 'yes': always lossy; 'maybe': lossy or lossless, told by the codestream (JPEG-LS NEAR, the JPEG 2000 wavelet)
   * or by LossyImageCompression; 'no': lossless by definition.
   */
  lossy: 'no' | 'maybe' | 'yes';
}

const table: TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'implicit VR little endian', codec: 'native', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.1', name: 'explicit VR little endian', codec: 'native', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.2', name: 'explicit VR big endian', codec: 'native', bigEndian: true, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE lossless', codec: 'rle', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG baseline (process 1)', codec: 'jpeg-baseline', bigEndian: false, lossy: 'yes' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG extended (process 2 & 4)', codec: 'jpeg-baseline', bigEndian: false, lossy: 'yes' },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG lossless (process 14)', codec: 'jpeg-lossless', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG lossless (process 14, selection value 1)', codec: 'jpeg-lossless', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS lossless', codec: 'jpeg-ls', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS near-lossless', codec: 'jpeg-ls', bigEndian: false, lossy: 'maybe' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 lossless', codec: 'jpeg2000', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', codec: 'jpeg2000', bigEndian: false, lossy: 'maybe' },
  { uid: '1.2.840.10008.1.2.4.201', name: 'HTJ2K lossless', codec: 'htj2k', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.202', name: 'HTJ2K lossless RPCL', codec: 'htj2k', bigEndian: false, lossy: 'no' },
  { uid: '1.2.840.10008.1.2.4.203', name: 'HTJ2K', codec: 'htj2k', bigEndian: false, lossy: 'maybe' },
];

/** UID → syntax, for every syntax the reader reads. */
export const TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntax> = new Map(table.map((s) => [s.uid, s]));

/** The codecs that need an asynchronous start (wasm modules) before the synchronous reader can use them. */
export const WASM_CODECS = ['jpeg-baseline', 'jpeg-ls', 'jpeg2000', 'htj2k'] as const;
export type WasmCodec = (typeof WASM_CODECS)[number];

export function isWasmCodec(codec: Codec): codec is WasmCodec {
  return (WASM_CODECS as readonly string[]).includes(codec);
}
