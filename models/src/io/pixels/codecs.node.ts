/**
 * Starts the wasm decoders of the compressed transfer syntaxes in Node: the Cornerstone codec packages OHIF itself
 * uses, each loading its .wasm file from its own package folder (no network).
 */
import { createRequire } from 'node:module';
import type { WasmCodec } from './syntaxes.ts';
import type { WasmDecoder, WasmDecoderFactory } from './wasm.ts';

const require = createRequire(import.meta.url);

/** Codec → [module (its decoder-only build where the package has one), embind class]. */
const MODULES: Record<WasmCodec, [string, string]> = {
  'jpeg-baseline': ['@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder'],
  'jpeg-ls': ['@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder'],
  jpeg2000: ['@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder'],
  htj2k: ['@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder'],
};

type EmscriptenFactory = (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<Record<string, new () => WasmDecoder>>;

/** Instantiates the codec's module (a fresh one on each call); `log` hears what the module prints. */
export async function startWasmCodec(codec: WasmCodec, log: (line: string) => void): Promise<WasmDecoderFactory> {
  const [path, className] = MODULES[codec];
  const factory = require(path) as EmscriptenFactory;
  const module = await factory({ print: log, printErr: log });
  const Decoder = module[className];
  if (typeof Decoder !== 'function') throw new Error(`${path} has no ${className}`);
  return () => new Decoder();
}
