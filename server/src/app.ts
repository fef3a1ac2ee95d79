import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import { MODEL_FILES_PATH, OUTSIDE_HEADER, REGION_HEADER } from '@vista3d/models';
import { Authenticator } from './auth/authenticator.ts';
import { authRoutes, requireAuth } from './auth/routes.ts';
import type { Config } from './config.ts';
import { errorHandler, HttpError } from './http/errors.ts';
import { declaredLengthLimit, jsonBodiesOnly, sameOriginOnly } from './http/guards.ts';
import type { Engine } from './inference/engine.ts';
import type { JobStore } from './inference/jobs.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { v1Router } from './routes/v1.ts';
import { modelFilesRouter } from './viewer/modelFiles.ts';

export interface AppState {
  ready: boolean;
  shuttingDown: boolean;
}

/** What the app is built from; tests build it in-process with their own. */
export interface AppDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** Where inference runs, once the model is loaded (in this process, worker processes, or through Redis). */
  engine: () => Engine | undefined;
  state: AppState;
  version: string;
  /** Extra routers mounted after /v1 (the viewer, the DICOMweb proxy). */
  extraRoutes?: (app: Express) => void;
  /** Who a request comes from; default: from the configuration. */
  auth?: Authenticator;
  /** The viewer's jobs; default: a registry from the configuration (the server closes its own at shutdown). */
  jobs?: JobStore;
}

function requestIds(): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    res.locals.requestId = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.set('X-Request-Id', res.locals.requestId);
    next();
  };
}

/** Records request count and latency per route pattern (not per raw URL: bounded label values). */
function instrument(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.latency.startTimer();
    // 'close' fires for finished and for aborted responses; a client that left is counted as 499.
    res.on('close', () => {
      // After an error Express has reset req.baseUrl: the router records its mount path first (routeBase).
      const route = req.route?.path ? `${res.locals.routeBase ?? req.baseUrl}${req.route.path}` : 'unmatched';
      end({ method: req.method, route });
      metrics.requests.inc({ method: req.method, route, status: String(res.writableFinished ? res.statusCode : 499) });
    });
    next();
  };
}

export function createApp(deps: AppDeps): Express {
  const { config, log, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestIds());
  app.use(instrument(metrics));
  app.use((req, res, next) => {
    res.setTimeout(config.requestTimeoutMs, () => {
      log.warn('request timed out', { requestId: res.locals.requestId, path: req.path });
      if (!res.headersSent) res.status(504).json({ detail: `request took longer than ${config.requestTimeoutMs} ms` });
      res.destroy();
    });
    next();
  });
  // CSRF: state changes only from our own origin (or CORS_ORIGINS), whatever the route.
  app.use(sameOriginOnly({ publicOrigin: config.dicomweb.publicOrigin, corsOrigins: config.corsOrigins }));
  // CORS: closed unless origins are configured (same-origin needs none).
  if (config.corsOrigins.length) app.use('/v1', cors({ origin: config.corsOrigins, allowedHeaders: ['Content-Type', 'Authorization', 'X-Request-Id'], exposedHeaders: ['X-Request-Id', 'Retry-After', REGION_HEADER, OUTSIDE_HEADER] }));
  // Authentication on every route but health and the viewer's static files (SECURITY.md).
  const auth = deps.auth ?? new Authenticator(config, log);
  authRoutes(auth, { withUsers: Boolean(config.auth.usersFile), gateViewer: auth.sessionsEnabled && !config.auth.oidc?.clientId })(app);
  app.use(['/v1', '/dicomweb'], requireAuth(auth));
  app.use('/v1', declaredLengthLimit(config.maxBodyBytes, 'MAX_BODY_BYTES'), jsonBodiesOnly(), express.json({ limit: config.maxBodyBytes, type: ['application/json', '+json'] }));
  // the model bundle, for viewers that run VISTA3D in the browser (behind the same authentication)
  app.use(MODEL_FILES_PATH.replace(/\/$/, ''), modelFilesRouter(config.modelDir));
  app.use('/v1', v1Router(deps));
  app.use('/v1', (req, _res, next) => next(new HttpError(404, 'not_found', `no endpoint ${req.method} /v1${req.path}`)));
  deps.extraRoutes?.(app);
  app.use(errorHandler(log));
  return app;
}
