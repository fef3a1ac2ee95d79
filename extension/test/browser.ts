import { join } from 'node:path';
import { REPO_ROOT } from '../../server/src/config.ts';

/**
 * Headless Chromium for the viewer tests: Debian's build (no download), WebGL2 through SwiftShader, and no
 * background networking (this machine's network is closed; Chromium would otherwise keep trying).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];
