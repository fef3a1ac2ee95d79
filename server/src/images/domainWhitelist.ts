/**
 * DOMAIN_WHITELIST: which image URLs may be fetched. NIM launch scripts write URL prefixes
 * (`http://host:8888`), bare host names (`localhost`) and `*` globs (`http://*`, `https://host:*`, `*`); older
 * configurations of this server wrote regular expressions. One rule tells them apart and gives each a meaning:
 *
 * - An entry without regular-expression syntax is a **glob/prefix**, with `*` as its wildcard. Regular-expression
 *   syntax is any of `\ ^ $ + ? ( ) [ ] { } |` or the pair `.*`; `*` and `.` alone do not count (they are the
 *   glob's wildcard and every host name's dots), nor does a bracketed IPv6 host (`[::1]`).
 *   - `*` alone matches every URL.
 *   - `scheme://host[:port][/path]` matches URLs on that origin — a missing port is the scheme's default port —
 *     whose path is the entry's path or lies below it (`/data` covers `/data` and `/data/ct.nii.gz`, not
 *     `/database`; no path covers every path).
 *   - A bare `host` (also `host:port`, `host/path`) is the same without a scheme: that host on any scheme and,
 *     without a port, on any port.
 *   - `*` matches any run of characters within the part it is in (scheme, host, port or path), never across
 *     parts: `https://*.example.org` covers `a.b.example.org` but not `example.org.evil.com`; `https://host:*`
 *     covers every port of host; `http://*` (the host `*` alone, no port) covers every http URL.
 *   Schemes and hosts compare case-insensitively after URL normalisation (IPv4 and IPv6 literals in canonical
 *   form); paths compare case-sensitively as URLs normalise them (percent-encoded, dot segments resolved). The
 *   query and fragment are not looked at.
 * - Any other entry is a **regular expression**, matched case-insensitively against the whole normalised URL
 *   (`href`), as before: `https://data\.example\.org/.*`.
 */
export interface UrlPattern {
  /** The entry as configured. */
  readonly source: string;
  readonly kind: 'glob' | 'regex';
  /** Whether `url` (a URL or its text; text that is not a URL never matches) is covered by this entry. */
  test(url: string | URL): boolean;
}

/** A DOMAIN_WHITELIST entry that cannot be read; the message names the entry. */
export class WhitelistEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WhitelistEntryError';
  }
}

const REGEX_SYNTAX = /[\\^$+?()[\]{}|]|\.\*/;
const BRACKETED_IPV6 = /\[[0-9a-f:.]*\]/i;
const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** Reads one entry by the rule above; throws WhitelistEntryError when it is neither a valid glob nor a valid regex. */
export function parseWhitelistEntry(entry: string): UrlPattern {
  const source = entry.trim();
  if (!source) throw new WhitelistEntryError('an empty entry matches nothing');
  return REGEX_SYNTAX.test(source.replace(BRACKETED_IPV6, '')) ? regexPattern(source) : globPattern(source);
}

/** True when `url` may be fetched: the list is empty (no whitelist) or one entry covers it. */
export function isWhitelisted(url: URL, patterns: readonly UrlPattern[]): boolean {
  return patterns.length === 0 || patterns.some((p) => p.test(url));
}

function toUrl(url: string | URL): URL | null {
  if (url instanceof URL) return url;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

function regexPattern(source: string): UrlPattern {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${source})$`, 'i');
  } catch (e) {
    throw new WhitelistEntryError(`${JSON.stringify(source)} is not a regular expression (${(e as Error).message})`);
  }
  return {
    source,
    kind: 'regex',
    test: (url) => {
      const u = toUrl(url);
      return u !== null && re.test(u.href);
    },
  };
}

/** A glob as regular-expression source: `*` → any run of characters, everything else literal. */
function globSource(glob: string): string {
  return glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`);
}

function globPattern(source: string): UrlPattern {
  const bad = (why: string) => new WhitelistEntryError(`${JSON.stringify(source)} is not a valid URL prefix or glob: ${why}`);
  if (source === '*') return { source, kind: 'glob', test: (url) => toUrl(url) !== null };

  // An unbracketed IPv6 literal as a bare host ("::1")
  const text = !source.includes('://') && /^[0-9a-f:.]+$/i.test(source) && (source.match(/:/g)?.length ?? 0) >= 2 ? `[${source}]` : source;
  const m = /^(?:([^:/]*):\/\/)?(\[[^\]]*\]|[^/:[\]]*)(?::([^/]*))?(\/.*)?$/.exec(text);
  if (!m) throw bad('expected scheme://host[:port][/path] or host[:port][/path]');
  const [, scheme, host, port, path] = m;
  if (!host) throw bad('no host');

  let schemeOk: (protocol: string) => boolean = () => true;
  if (scheme !== undefined) {
    const s = scheme.toLowerCase();
    if (!s) throw bad('empty scheme');
    if (s.includes('*')) {
      const re = globRegExp(s);
      schemeOk = (protocol) => re.test(protocol.slice(0, -1));
    } else if (s === 'http' || s === 'https') {
      schemeOk = (protocol) => protocol === `${s}:`;
    } else {
      throw bad(`scheme ${s} is never used for image URLs (http, https)`);
    }
  }

  let hostOk: (hostname: string) => boolean;
  if (host.includes('*')) {
    const re = globRegExp(host.toLowerCase());
    hostOk = (hostname) => re.test(hostname);
  } else {
    let canonical: string;
    try {
      canonical = new URL(`http://${host}/`).hostname;
    } catch {
      throw bad(`${JSON.stringify(host)} is not a host name or IP address`);
    }
    hostOk = (hostname) => hostname === canonical;
  }

  let portOk: (port: number, isDefault: boolean) => boolean;
  if (port === undefined) {
    // with a scheme the origin's port is the default one, unless the whole authority is `*` (`http://*`)
    portOk = scheme !== undefined && host !== '*' ? (_, isDefault) => isDefault : () => true;
  } else if (port.includes('*')) {
    if (!/^[0-9*]+$/.test(port)) throw bad(`port ${JSON.stringify(port)} is not a number or a * glob of digits`);
    const re = globRegExp(port);
    portOk = (p) => re.test(String(p));
  } else {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw bad(`port ${JSON.stringify(port)} is not a number from 0 to 65535`);
    const want = Number(port);
    portOk = (p) => p === want;
  }

  let pathOk: (pathname: string) => boolean = () => true;
  if (path !== undefined && path !== '/') {
    const normal = new URL(path, 'http://h').pathname; // the same normalisation the matched URLs get
    const body = globSource(normal);
    const re = new RegExp(normal.endsWith('/') ? `^${body}` : `^${body}(?:/|$)`);
    pathOk = (pathname) => re.test(pathname);
  }

  return {
    source,
    kind: 'glob',
    test: (url) => {
      const u = toUrl(url);
      if (!u) return false;
      const isDefault = u.port === '';
      const effectivePort = isDefault ? (DEFAULT_PORT[u.protocol] ?? -1) : Number(u.port);
      return schemeOk(u.protocol) && hostOk(u.hostname) && portOk(effectivePort, isDefault) && pathOk(u.pathname);
    },
  };
}
