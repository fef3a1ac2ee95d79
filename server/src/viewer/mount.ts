import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { REPO_ROOT, type Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { PLUGIN_FILES, appConfigScript, viewerRoutes } from './routes.ts';

/** Where scripts/build-plugins.mjs writes the extension and the mode. */
export const PLUGIN_DIRS = [join(REPO_ROOT, 'extension/dist'), join(REPO_ROOT, 'mode/dist')];

/**
 * Mounts the viewer when configured (VIEWER, VIEWER_DIST) and present; says what is missing otherwise. The
 * API and /dicomweb work without it.
 */
export function mountViewer(app: Express, config: Pick<Config, 'viewerDist' | 'crossOriginIsolation'>, log: Logger, pluginDirs = PLUGIN_DIRS): boolean {
  const distDir = config.viewerDist;
  if (!distDir) return false;
  if (!existsSync(join(distDir, 'index.html'))) {
    log.warn('viewer not served: no OHIF build found; run `node scripts/fetch-viewer.mjs` (npm start does) or set VIEWER_DIST', { viewerDist: distDir });
    return false;
  }
  for (const file of Object.values(PLUGIN_FILES)) {
    if (!pluginDirs.some((d) => existsSync(join(d, file)))) log.warn('viewer plugin not built; run `node scripts/build-plugins.mjs` (npm start does)', { file });
  }
  const script = appConfigScript();
  viewerRoutes({ distDir, pluginDirs, appConfig: () => script, crossOriginIsolation: config.crossOriginIsolation })(app);
  return true;
}
