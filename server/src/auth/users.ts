import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The people who may log in to the viewer: a USERS_FILE of `name:scrypt$N$r$p$<salt b64>$<hash b64>` lines
 * (`#` comments and blank lines allowed), written by `npm run user -- add NAME`. Passwords are never stored.
 */
const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, opts, (e, k) => (e ? reject(e) : resolve(k))));

const LINE = /^([A-Za-z0-9._@-]{1,64}):scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
const DEFAULT = { N: 2 ** 15, r: 8, p: 1 };
/** scrypt's memory is 128·N·r bytes: 32 MiB at the default; the bound keeps a hostile file from asking for more. */
const MAX_N = 2 ** 17;

interface Entry {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** The `name:scrypt$…` line for a user and password. */
export async function hashUserLine(name: string, password: string): Promise<string> {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new Error(`user name ${JSON.stringify(name)} may hold only letters, digits and . _ @ - (at most 64)`);
  if (password.length < 12) throw new Error('the password must have at least 12 characters');
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, { ...DEFAULT, maxmem: 256 * DEFAULT.N * DEFAULT.r });
  return `${name}:scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export class Users {
  private constructor(private readonly entries: Map<string, Entry>) {}

  /** Reads and checks a users file; throws naming the bad line. */
  static fromFile(path: string): Users {
    return Users.parse(readFileSync(path, 'utf8'), path);
  }

  static parse(text: string, what = 'users file'): Users {
    const entries = new Map<string, Entry>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const m = LINE.exec(line);
      if (!m) throw new Error(`${what}, line ${i + 1}: expected name:scrypt$N$r$p$salt$hash (npm run user -- add NAME writes one)`);
      const [N, r, p] = [Number(m[2]), Number(m[3]), Number(m[4])];
      if (N > MAX_N || N < 2 ** 10 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) throw new Error(`${what}, line ${i + 1}: scrypt parameters out of range`);
      entries.set(m[1], { N, r, p, salt: Buffer.from(m[5], 'base64'), hash: Buffer.from(m[6], 'base64') });
    });
    return new Users(entries);
  }

  get size(): number {
    return this.entries.size;
  }

  /** True when the password is the user's; the same work is done for unknown names (no timing oracle). */
  async verify(name: string, password: string): Promise<boolean> {
    const e = this.entries.get(name);
    const { N, r, p } = e ?? DEFAULT;
    const salt = e?.salt ?? Buffer.alloc(16);
    const got = await scrypt(password.slice(0, 1024), salt, e?.hash.length ?? 32, { N, r, p, maxmem: 256 * N * r });
    return Boolean(e) && timingSafeEqual(got, e!.hash);
  }
}
