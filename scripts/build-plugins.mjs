#!/usr/bin/env node
// Bundles the OHIF plugins the viewer loads at run time with a native import(): the VISTA3D extension and the
// VISTA3D mode, each one self-contained ESM file (+ source map). React, react-dom, fflate and the isomorphic parts
// of @vista3d/models go into the extension: the prebuilt viewer shares none of its modules with plugins.
//   node scripts/build-plugins.mjs          build once
//   node scripts/build-plugins.mjs --watch  rebuild on change
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;

/**
 * What is built, and the file names the server's /plugins/ route and the mode expect: the contract's PLUGIN_FILES
 * (models/src/contract/names.ts; this plain script cannot import TypeScript, server/src/viewer/routes.test.ts
 * checks that the two agree).
 */
export const PLUGINS = [
  { entry: 'extension/src/index.ts', outfile: 'extension/dist/vista3d-extension.mjs' },
  { entry: 'mode/src/index.ts', outfile: 'mode/dist/vista3d-mode.mjs' },
  // the in-browser inference worker (module worker): the pipeline and onnxruntime-web, whose wasm files the server
  // serves under /plugins/ort/
  { entry: 'extension/src/local/worker.ts', outfile: 'extension/dist/vista3d-worker.mjs' },
];

export async function buildPlugins({ watch = false, quiet = false } = {}) {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    sourcemap: true,
    minify: false,
    jsx: 'automatic',
    legalComments: 'none',
    logLevel: quiet ? 'warning' : 'info',
    define: { 'process.env.NODE_ENV': '"production"' },
    // The browser half of @vista3d/models (package "exports": "default" conditions).
    conditions: ['browser', 'default'],
    absWorkingDir: root,
  };
  const t0 = performance.now();
  const contexts = await Promise.all(PLUGINS.map((p) => esbuild.context({ ...common, entryPoints: [join(root, p.entry)], outfile: join(root, p.outfile) })));
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  try {
    await Promise.all(contexts.map((c) => c.rebuild()));
  } finally {
    await Promise.all(contexts.map((c) => c.dispose()));
  }
  if (!quiet) console.error(`plugins built in ${Math.round(performance.now() - t0)} ms: ${PLUGINS.map((p) => p.outfile).join(', ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildPlugins({ watch: process.argv.includes('--watch') }).catch(() => process.exit(1));
}
