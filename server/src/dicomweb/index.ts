/**
 * The server's DICOMweb side, wired from the configuration: `/dicomweb` is a proxy to DICOMWEB_URL when it is
 * set, else the embedded store with the sample study; the series loader reads series URLs given as `image`.
 */
import type { Express } from 'express';
import type { Config } from '../config.ts';
import { DicomwebSeriesLoader } from '../images/dicomwebSeries.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { boundedDicomwebLists } from './lists.ts';
import { dicomwebProxyRouter } from './proxy.ts';
import { embeddedDicomwebRouter } from './routes.ts';
import { DicomStore } from './store.ts';

import { DICOMWEB_ROOT } from '@vista3d/models';

export { DICOMWEB_ROOT };

export interface Dicomweb {
  /** The embedded store (null when DICOMWEB_URL is set). */
  store: DicomStore | null;
  series: DicomwebSeriesLoader;
  /** Mounts `/dicomweb` on the app (before any catch-all route such as the viewer's SPA fallback). */
  mount(app: Express): void;
}

export function createDicomweb(config: Config, log: Logger, metrics?: Metrics): Dicomweb {
  const d = config.dicomweb;
  const store = d.url ? null : new DicomStore(DICOMWEB_ROOT, d.storeBytes, d.sampleStudy);
  const series = new DicomwebSeriesLoader(config, store, {
    lookup: (hit) => metrics?.cacheLookups.inc({ cache: 'series', result: hit ? 'hit' : 'miss' }),
    evict: () => metrics?.cacheEvictions.inc({ cache: 'series' }),
  });
  return {
    store,
    series,
    mount(app) {
      const router = d.url ? dicomwebProxyRouter({ base: d.url, auth: d.auth, timeoutMs: config.images.downloadTimeoutMs }, log) : embeddedDicomwebRouter(store!);
      app.use(DICOMWEB_ROOT, boundedDicomwebLists(config.maxListEntries), router);
    },
  };
}
