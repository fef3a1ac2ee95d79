import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { Users } from './users.ts';

/**
 * Who a request comes from. Three credentials, each optional and configured alone or together:
 * - scripts: `Authorization: Bearer <API_KEY>`;
 * - people in the viewer: a login session (USERS_FILE; /login sets an HttpOnly, SameSite=Strict cookie, so the
 *   viewer's own requests to /v1 and /dicomweb carry it with no change to OHIF);
 * - people in an OIDC deployment: `Authorization: Bearer <JWT>` from OIDC_ISSUER, which OHIF's
 *   userAuthenticationService attaches once its `oidc` login is configured (our panel attaches it too).
 */
export interface Principal {
  /** Stable id used for per-client bounds (`key:…`, `user:alice`, `oidc:<sub>`). */
  id: string;
  kind: 'key' | 'user' | 'oidc' | 'anonymous';
  name: string;
}

export const SESSION_COOKIE = 'vista3d_session';
const MAX_SESSIONS = 10_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Where login sessions live, keyed by the SHA-256 of the cookie (never the cookie itself): this process's memory,
 * or Redis when several front ends answer the same viewer (workers/redis.ts).
 */
export interface SessionStore {
  /** The session's user, if it exists and was used within `idleMs`; using it restarts its idle time. */
  use(key: string, idleMs: number): Promise<string | undefined>;
  open(key: string, user: string, idleMs: number): Promise<void>;
  close(key: string): Promise<void>;
}

/** Sessions in this process: at most MAX_SESSIONS (idle ones go first, then the oldest). */
export class MemorySessions implements SessionStore {
  private readonly sessions = new Map<string, { user: string; lastUsed: number }>();
  async use(key: string, idleMs: number): Promise<string | undefined> {
    const s = this.sessions.get(key);
    const now = Date.now();
    if (s && now - s.lastUsed <= idleMs) {
      s.lastUsed = now;
      return s.user;
    }
    if (s) this.sessions.delete(key);
    return undefined;
  }
  async open(key: string, user: string, idleMs: number): Promise<void> {
    const now = Date.now();
    if (this.sessions.size >= MAX_SESSIONS) {
      for (const [k, s] of this.sessions) if (now - s.lastUsed > idleMs) this.sessions.delete(k);
      // still full: the least recently created goes (Map order)
      while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    }
    this.sessions.set(key, { user, lastUsed: now });
  }
  async close(key: string): Promise<void> {
    this.sessions.delete(key);
  }
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export class Authenticator {
  readonly required: boolean;
  private readonly apiKeyHash: Buffer | null;
  private readonly users: Users | null;
  private jwks: JWTVerifyGetKey | null = null;

  constructor(
    private readonly config: Pick<Config, 'apiKey' | 'auth'>,
    private readonly log: Logger,
    users?: Users,
    private readonly sessions: SessionStore = new MemorySessions(),
  ) {
    this.required = config.auth.required;
    this.apiKeyHash = config.apiKey ? sha256(config.apiKey) : null;
    this.users = users ?? (config.auth.usersFile ? Users.fromFile(config.auth.usersFile) : null);
  }

  /** Whether /login can open sessions: for the users of USERS_FILE, and for whoever holds the API key. */
  get sessionsEnabled(): boolean {
    return this.users !== null || this.apiKeyHash !== null;
  }

  /** The principal of a request, null when its credentials are missing or wrong (anonymous when none are required). */
  async authenticate(req: Request): Promise<Principal | null> {
    if (!this.required) return { id: `addr:${req.socket.remoteAddress ?? '?'}`, kind: 'anonymous', name: 'anonymous' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (m) {
      const token = m[1];
      if (this.apiKeyHash && timingSafeEqual(sha256(token), this.apiKeyHash)) return { id: `key:${sha256(token).toString('hex').slice(0, 12)}`, kind: 'key', name: 'API key' };
      if (this.config.auth.oidc && token.split('.').length === 3) return this.verifyJwt(token);
      return null;
    }
    const sid = cookie(req, SESSION_COOKIE);
    if (sid) {
      const user = await this.sessions.use(sha256(sid).toString('hex'), this.config.auth.sessionIdleMs);
      if (user) return { id: `user:${user}`, kind: 'user', name: user };
    }
    return null;
  }

  private async verifyJwt(token: string): Promise<Principal | null> {
    const o = this.config.auth.oidc!;
    try {
      this.jwks ??= createRemoteJWKSet(new URL(o.jwksUrl ?? (await this.discoverJwks(o.issuer))), { timeoutDuration: 5000 });
      const { payload } = await jwtVerify(token, this.jwks, { issuer: o.issuer, audience: o.audience, clockTolerance: 30 });
      const sub = String(payload.sub ?? '');
      if (!sub) return null;
      return { id: `oidc:${sub}`, kind: 'oidc', name: String(payload.preferred_username ?? payload.email ?? sub) };
    } catch (e) {
      this.log.debug('bearer token refused', { error: (e as Error).message });
      return null;
    }
  }

  private async discoverJwks(issuer: string): Promise<string> {
    const r = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`OIDC discovery at ${issuer} answered ${r.status}`);
    const uri = ((await r.json()) as { jwks_uri?: unknown }).jwks_uri;
    if (typeof uri !== 'string') throw new Error(`OIDC discovery at ${issuer} names no jwks_uri`);
    return uri;
  }

  /**
   * Checks a user's password (USERS_FILE), or with no user name the API key, and opens a session: the cookie
   * value to set, or null.
   */
  async login(name: string, password: string): Promise<string | null> {
    const ok = name
      ? Boolean(this.users && (await this.users.verify(name, password)))
      : Boolean(this.apiKeyHash && timingSafeEqual(sha256(password), this.apiKeyHash));
    if (!ok) return null;
    if (!name) name = 'api-key';
    const sid = randomBytes(32).toString('base64url');
    await this.sessions.open(sha256(sid).toString('hex'), name, this.config.auth.sessionIdleMs);
    return sid;
  }

  async logout(req: Request): Promise<void> {
    const sid = cookie(req, SESSION_COOKIE);
    if (sid) await this.sessions.close(sha256(sid).toString('hex'));
  }

  setSessionCookie(req: Request, res: Response, sid: string | null): void {
    const secure = req.protocol === 'https' ? '; Secure' : '';
    const value = sid ? `${sid}; Max-Age=${Math.floor(this.config.auth.sessionIdleMs / 1000)}` : '; Max-Age=0';
    res.append('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${secure}`);
  }
}
