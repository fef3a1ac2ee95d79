import express, { type Express, type RequestHandler } from 'express';
import { HttpError } from '../http/errors.ts';
import type { Authenticator, Principal } from './authenticator.ts';

/** Paths that never need credentials: liveness/readiness probes. */
const OPEN = [/^\/v1\/health\//];
const LOGIN_FAILURES_PER_WINDOW = 10;
const LOGIN_WINDOW_MS = 5 * 60_000;

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: Principal;
  }
}

/**
 * Requires a principal on the routers it guards (/v1 but health, /dicomweb, /auth/me); 401 otherwise, saying
 * how to authenticate. Sets `res.locals.principal` (anonymous when authentication is off).
 */
export function requireAuth(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    if (OPEN.some((re) => re.test(req.originalUrl))) return next();
    auth.authenticate(req).then((p) => {
      if (p) {
        res.locals.principal = p;
        return next();
      }
      if (req.get('authorization')) return next(new HttpError(401, 'unauthorized', 'the credentials sent are wrong: an unknown API key, or an expired or foreign bearer token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' }));
      const how = [
        '"Authorization: Bearer <API key>" (scripts)',
        ...(auth.sessionsEnabled ? ['a viewer login at /login'] : []),
      ].join(' or ');
      next(new HttpError(401, 'unauthorized', `this server requires authentication: ${how}`, { 'WWW-Authenticate': 'Bearer' }));
    }, next);
  };
}

/** A relative path to return to after login; anything else (other origins, `//host`) becomes `/`. */
function safeNext(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(v) ? v : '/';
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(next: string, failed: boolean, withUsers: boolean): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>VISTA3D viewer — sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font-family:system-ui,sans-serif;background:#0b1a33;color:#e6edf7;display:grid;place-items:center;height:100vh;margin:0}
form{background:#13294b;padding:2rem;border-radius:8px;display:grid;gap:.75rem;min-width:18rem}input,button{font:inherit;padding:.5rem;border-radius:4px;border:1px solid #3a5a8c}
button{background:#5acce6;color:#0b1a33;border:0;cursor:pointer}.err{color:#ffb4a8}</style></head><body>
<form method="post" action="/auth/login" data-testid="login-form"><h1 style="margin:0;font-size:1.3rem">VISTA3D viewer</h1>
${failed ? '<p class="err" role="alert">Wrong user name or password.</p>' : ''}
${withUsers ? '<label>User <input name="user" autocomplete="username" autofocus></label>' : ''}
<label>${withUsers ? 'Password (or, with no user, the API key)' : 'API key'} <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="${escapeHtml(next)}"><button type="submit">Sign in</button></form></body></html>`;
}

/**
 * The viewer's login: GET /login (a form), POST /auth/login (form or JSON: user, password, next), POST /auth/logout,
 * GET /auth/me; and a gate that sends a browser opening a viewer page without a session to /login. Failed logins
 * are limited per address.
 */
export function authRoutes(auth: Authenticator, opts: { withUsers: boolean; gateViewer: boolean }): (app: Express) => void {
  const failures = new Map<string, { count: number; since: number }>();
  return (app) => {
    if (!auth.required) return;
    app.get('/login', (req, res) => {
      res.set('Cache-Control', 'no-store').type('html').send(loginPage(safeNext(req.query.next), req.query.error === '1', opts.withUsers));
    });
    const body = [express.urlencoded({ extended: false, limit: 4096 }), express.json({ limit: 4096 })];
    app.post('/auth/login', ...body, async (req, res) => {
      const addr = req.socket.remoteAddress ?? '?';
      const now = Date.now();
      const f = failures.get(addr);
      if (f && now - f.since < LOGIN_WINDOW_MS && f.count >= LOGIN_FAILURES_PER_WINDOW) {
        throw new HttpError(429, 'too_many_logins', `too many failed logins from this address; wait ${Math.ceil((LOGIN_WINDOW_MS - (now - f.since)) / 1000)} s`, { 'Retry-After': String(Math.ceil(LOGIN_WINDOW_MS / 1000)) });
      }
      const b = (req.body ?? {}) as Record<string, unknown>;
      const user = typeof b.user === 'string' ? b.user.trim() : '';
      const password = typeof b.password === 'string' ? b.password : '';
      const next = safeNext(b.next);
      const form = req.is('application/x-www-form-urlencoded');
      const sid = password ? await auth.login(user, password) : null;
      if (!sid) {
        const g = f && now - f.since < LOGIN_WINDOW_MS ? f : { count: 0, since: now };
        g.count++;
        failures.set(addr, g);
        if (failures.size > 10_000) failures.delete(failures.keys().next().value!);
        if (form) return res.redirect(303, `/login?error=1&next=${encodeURIComponent(next)}`);
        throw new HttpError(401, 'login_failed', 'wrong user name or password');
      }
      failures.delete(addr);
      auth.setSessionCookie(req, res, sid);
      if (form) return res.redirect(303, next);
      res.json({ user: user || 'api-key' });
    });
    app.post('/auth/logout', async (req, res) => {
      await auth.logout(req);
      auth.setSessionCookie(req, res, null);
      if (req.is('application/x-www-form-urlencoded')) return res.redirect(303, '/login');
      res.status(204).end();
    });
    app.get('/auth/me', requireAuth(auth), (_req, res) => {
      const p = res.locals.principal!;
      res.json({ user: p.name, kind: p.kind });
    });
    if (opts.gateViewer) {
      // A person opening the viewer without a session logs in first (static assets stay open: they hold no data).
      app.use((req, res, next) => {
        if (req.method !== 'GET' || /\.[^/]*$/.test(req.path) || /^\/(v1|dicomweb|auth|login|plugins)(\/|$)/.test(req.path) || !req.accepts('html')) return next();
        auth.authenticate(req).then((p) => (p ? next() : res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`)), next);
      });
    }
  };
}
