/** What the Cornerstone codec modules (@cornerstonejs/codec-*) offer a decoder of one frame: their embind classes. */
export interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** One decoder instance: its buffers are views into the module's heap, valid until the next call; `delete` frees it. */
export interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): WasmFrameInfo;
  delete(): void;
}

/** A started codec module: makes decoders. */
export type WasmDecoderFactory = () => WasmDecoder;
