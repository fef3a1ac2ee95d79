/**
 * The browser build has no wasm decoders for compressed DICOM: the codec packages reach for Node's fs, and in a
 * viewer OHIF's own image loader decodes. RLE and JPEG lossless (plain JavaScript) still work there.
 */
import { InvalidImageError } from '../../errors.ts';
import type { WasmCodec } from './syntaxes.ts';
import type { WasmDecoderFactory } from './wasm.ts';

export async function startWasmCodec(codec: WasmCodec, _log: (line: string) => void): Promise<WasmDecoderFactory> {
  throw new InvalidImageError(`DICOM ${codec} decoding is available in Node only (the server), not in the browser build`);
}
