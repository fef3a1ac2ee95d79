/**
 * Seeded request bodies for POST /v1/vista3d/inference and /v1/vista3d/jobs: valid ones, and mutants of them —
 * wrong types, huge and non-finite numbers, deep nesting, unknown fields, negative/float/out-of-range/ill-shaped
 * point coordinates, hostile unicode and paths, empty and non-JSON bodies, wrong content types and encodings,
 * cross-origin requests, oversized bodies (declared, chunked, declared short).
 */
import { deflateSync, gzipSync } from 'node:zlib';
import type { Rng } from './rng.ts';

export interface BodyContext {
  /** A valid small NIfTI on the file server (http URL), its dims, a DICOM folder and a file under IMAGE_ROOTS. */
  imageUrl: string;
  dims: readonly [number, number, number];
  dicomPath: string;
  localPath: string;
  /** This server's origin (allowed as Origin). */
  origin: string;
  maxBodyBytes: number;
  /** The image host's origin, for images that 404 or answer 500 there. */
  hostUrl: string;
}

export interface BodyCase {
  label: string;
  path: '/v1/vista3d/inference' | '/v1/vista3d/jobs';
  headers: Record<string, string>;
  body: Uint8Array | string;
  chunked?: boolean;
  /** 'valid': must be 2xx; 'invalid': must be 4xx; 'either': 2xx or 4xx (fields ignored, values that stay valid). */
  expect: 'valid' | 'invalid' | 'either';
  /** Statuses that are an injected fault's correct answer (an unreachable image host: 502). */
  allow5xx?: number[];
  /** The server may close the connection on it (an oversized upload). */
  mayClose?: boolean;
}

/** JSON text inserted as is (non-finite literals, duplicate keys, __proto__, deep nesting). */
class Raw {
  constructor(readonly text: string) {}
}
type Json = null | boolean | number | string | Raw | Json[] | { [k: string]: Json };

function toJson(v: Json): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  return JSON.stringify(v);
}

const deep = (n: number) => new Raw(`${'['.repeat(n)}${']'.repeat(n)}`);
const deepObject = (n: number) => new Raw(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

const VALUES: Json[] = [
  null, true, false, 0, -1, 1.5, -0.5, 1e308, -1e308, 2 ** 53 + 2, 2 ** 31, -(2 ** 31) - 1, '', ' ', 'liver', 'LIVER', 'lvier',
  'x'.repeat(5000), '\u0000', '\ud800', '\udfff\ud800', '😀', '\u202eiig.nii', 'ليفر', '../../../etc/passwd', '/etc/passwd',
  'file:///etc/passwd', 'file://remote/x.nii', 'http://169.254.169.254/latest/meta-data/x.nii', 'http://[::1]:1/x.nii',
  'http://0x7f.1:1/x.nii', 'ftp://example.org/y.nii', 'data:application/octet-stream;base64,AAAA', 'C:\\Windows\\x.nii',
  '%2e%2e%2fsecret.nii', 'ct.nii.gz\u0000.png', [], {}, [[]], [1, 2, 3], [[1, 2, 3]], ['liver', null], [{}],
  new Raw('1e999'), new Raw('-1e999'), new Raw('-0'), new Raw('{"__proto__":{"polluted":1}}'), new Raw('{"constructor":{"prototype":{"x":1}}}'),
  deep(64), deep(5000), deepObject(2000), new Raw('"\\ud800\\udc00"'), new Raw('"\\u0000"'),
];
const COORDS: Json[] = [-1, -1000, 1.5, 0.5, 24, 23, 1e20, 2 ** 31, -(2 ** 31), '1', null, true, new Raw('1e999'), new Raw('-0'), [], [1]];
const POINT_LABEL_KEYS = ['', 'x'.repeat(300), 'SPLEEN', 'spleen ', '133', '0', '255', '2', 'lung', 'kidney', 'Liver', '__proto__', 'constructor', 'toString', 'ليفر'];

function validBases(c: BodyContext): { [k: string]: Json }[] {
  const [x, y, z] = c.dims.map((d) => Math.floor(d / 2));
  return [
    { image: c.imageUrl, prompts: { classes: ['liver'] } },
    { image: c.imageUrl, prompts: { classes: ['liver', 'spleen', 6] } },
    { image: c.imageUrl, prompts: { points: { spleen: [[x, y, z]] } } },
    { image: c.imageUrl, prompts: { points: { spleen: [[x, y, z], [1, 1, 1]] }, point_labels: { spleen: [1, 0] } } },
    { image: c.imageUrl, prompts: { classes: ['liver'], points: { spleen: [[x, y, z]] } } },
    { image: c.dicomPath, prompts: { classes: ['aorta'] } },
    { image: c.localPath, prompts: { classes: ['kidney'] } },
    { image: `file://${c.localPath}`, prompts: { classes: [1] } },
    { image: c.imageUrl },
  ];
}

/** Every path into a JSON value (root first). */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object' && !(v instanceof Raw)) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function setAt(v: Json, at: (string | number)[], value: Json | undefined): Json {
  if (!at.length) return value === undefined ? null : value;
  const [k, ...rest] = at;
  if (Array.isArray(v)) {
    const copy = [...v];
    if (rest.length) copy[k as number] = setAt(copy[k as number], rest, value);
    else if (value === undefined) copy.splice(k as number, 1);
    else copy[k as number] = value;
    return copy;
  }
  const copy = { ...(v as Record<string, Json>) };
  if (rest.length) copy[k] = setAt(copy[k], rest, value);
  else if (value === undefined) delete copy[k];
  else copy[k] = value;
  return copy;
}

const clip = (s: string) => (s.length > 90 ? `${s.slice(0, 60)}…(${s.length} chars)` : s);
const JSON_TYPE = { 'content-type': 'application/json' };

/** Body case `i`: depends only on the seed and `i`. */
export function bodyCase(c: BodyContext, rng: Rng, i: number): BodyCase {
  const r = rng.fork('body', i);
  const path = r.chance(0.5) ? '/v1/vista3d/inference' : '/v1/vista3d/jobs';
  const base = r.pick(validBases(c));
  const kind = r.int(0, 99);
  const json = (v: Json, label: string, expect: BodyCase['expect'], extra: Partial<BodyCase> = {}): BodyCase => ({ label: clip(label), path, headers: { ...JSON_TYPE }, body: toJson(v), expect, ...extra });

  if (kind < 12) return json(base, `valid ${clip(toJson(base))}`, 'valid');
  if (kind < 45) {
    const at = r.pick(paths(base));
    const value = r.pick(VALUES);
    const shown = value instanceof Raw ? value.text : JSON.stringify(value);
    // an image the host does not serve is a 404, an unreachable one a 502 (the fault is the host's)
    const allow5xx = at[0] === 'image' && typeof value === 'string' && /^http:\/\/(\[::1\]|0x7f)/.test(value) ? [502] : undefined;
    return json(setAt(base, at, value), `${at.join('.') || 'body'} = ${clip(shown ?? '')}`, 'either', { allow5xx });
  }
  if (kind < 53) {
    const at = r.pick(paths(base).filter((p) => p.length));
    if (r.chance(0.5) && at) return json(setAt(base, at, undefined), `delete ${at.join('.')}`, 'either');
    const where = r.pick([[], ['prompts']] as (string | number)[][]);
    const key = r.pick(['extra', 'image_url', 'model', '__proto__', 'prompt', 'classes', 'local_working_dir', 'x'.repeat(1000)]);
    const target = where.length && (base as Record<string, Json>).prompts === undefined ? [] : where;
    const withKey = setAt(base, [...target, key], r.pick(VALUES));
    return json(withKey, `add ${[...target, key].join('.').slice(0, 40)}`, 'either');
  }
  if (kind < 68) {
    const [x, y, z] = c.dims.map((d) => Math.floor(d / 2));
    const label = r.chance(0.7) ? 'spleen' : r.pick(POINT_LABEL_KEYS);
    let points: Json = [[x, y, z]];
    let labels: Json | undefined;
    const v = r.int(0, 7);
    if (v <= 2) {
      const p: Json[] = [x, y, z];
      const axis = r.int(0, 2);
      p[axis] = r.pick([...COORDS, c.dims[axis], c.dims[axis] - 1, c.dims[axis] + 1]);
      points = [p];
    } else if (v === 3) points = r.pick<Json>([[[1, 2]], [[1, 2, 3, 4]], [[]], [], [1, 2, 3], 'x', null, [[[1, 2, 3]]]]);
    else if (v === 4) points = Array.from({ length: r.pick([100, 101, 1000]) }, () => [x, y, z]);
    else if (v === 5) {
      points = [[x, y, z], [1, 1, 1]];
      labels = r.pick<Json>([[1], [1, 0, 1], [2, 0], [-1, 1], ['1', '0'], [true, false], null, [], 'x', [1.5, 0]]);
    } else if (v === 6) {
      points = [[x, y, z]];
      labels = [0]; // a negative click alone
    } else points = [[x, y, z], [x, y, z]]; // the same click twice
    const prompts: Json = labels === undefined ? { points: { [label]: points } } : { points: { [label]: points }, point_labels: { [label]: labels } };
    return json({ image: c.imageUrl, prompts }, `points ${clip(toJson(prompts))}`, 'either');
  }
  if (kind < 78) {
    const valid = toJson(base);
    const raw = r.pick([
      '', '{', '}', '[', 'null', '[]', '1', '"str"', 'true', `\ufeff${valid}`, `${valid} trailing`, `${valid}${valid}`,
      "{'image': 'x.nii'}", `{"image": "${c.imageUrl}",}`, 'NaN', '{"image": "\\ud800"}', '{"image": 1e999}', `{"image": "${c.imageUrl}", "image": 7}`,
      `{"image": "${c.imageUrl}", "prompts": {"classes": ["liver"], "classes": {}}}`, '\u0000\u0000', '{"image":"a\u0001b.nii"}', ' '.repeat(1000),
    ]);
    if (r.chance(0.15)) {
      // invalid UTF-8 inside a string
      const head = Buffer.from('{"image": "ct');
      const tail = Buffer.from('.nii"}');
      return { label: 'invalid UTF-8 in image', path, headers: { ...JSON_TYPE }, body: Buffer.concat([head, Buffer.from([0xc3, 0x28, 0xff, 0xfe]), tail]), expect: 'either' }; // decoded with U+FFFD: a name like any other
    }
    return { label: `raw ${JSON.stringify(clip(raw))}`, path, headers: { ...JSON_TYPE }, body: raw, expect: 'either' };
  }
  if (kind < 90) {
    const valid = toJson(base);
    const v = r.int(0, 15);
    const ct = (type: string | null, body: Uint8Array | string, label: string, expect: BodyCase['expect'], more: Record<string, string> = {}): BodyCase => ({ label, path, headers: { ...(type === null ? {} : { 'content-type': type }), ...more }, body, expect });
    if (v === 0) return ct('text/plain', valid, 'content-type text/plain', 'invalid');
    if (v === 1) return ct('application/x-www-form-urlencoded', `image=${encodeURIComponent(c.imageUrl)}`, 'form-urlencoded body', 'invalid');
    if (v === 2) return ct('multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="image"\r\n\r\n${c.imageUrl}\r\n--x--\r\n`, 'multipart/form-data body', 'invalid');
    if (v === 3) return ct(null, valid, 'no content-type', 'invalid');
    if (v === 4) return ct('application/json; charset=utf-16', Buffer.from(valid, 'utf16le'), 'JSON in UTF-16', 'either');
    if (v === 5) return ct('application/json; charset=latin1', Buffer.from(valid, 'latin1'), 'charset=latin1', 'either');
    if (v === 6) return ct('application/json; charset=nonsense', valid, 'charset=nonsense', 'invalid');
    if (v === 7) return ct('application/vnd.api+json', valid, '+json content-type', 'valid');
    if (v === 8) return ct('APPLICATION/JSON', valid, 'upper-case content-type', 'either');
    if (v === 9) return ct('application/jsonx', valid, 'content-type application/jsonx', 'invalid');
    if (v === 10) return ct('application/json', gzipSync(valid), 'content-encoding gzip', 'either', { 'content-encoding': 'gzip' });
    if (v === 11) return ct('application/json', Buffer.from('not gzip at all'), 'content-encoding gzip, not gzip', 'invalid', { 'content-encoding': 'gzip' });
    if (v === 12) return ct('application/json', deflateSync(valid), 'content-encoding deflate', 'either', { 'content-encoding': 'deflate' });
    if (v === 13) return ct('application/json', valid, 'content-encoding br (not br)', 'invalid', { 'content-encoding': 'br' });
    if (v === 14) return ct('application/json', valid, 'content-encoding x-unknown', 'invalid', { 'content-encoding': 'x-unknown' });
    return { ...ct('application/json', gzipSync(Buffer.alloc(16 * 1024 ** 2, 0x20)), 'gzip bomb body (16 MiB of spaces)', 'invalid', { 'content-encoding': 'gzip' }), mayClose: true };
  }
  if (kind < 96) {
    const pad = c.maxBodyBytes * r.pick([1.01, 2, 8]);
    const big = toJson(setAt(base, ['padding'], 'x'.repeat(Math.ceil(pad))));
    const v = r.int(0, 2);
    if (v === 0) return { label: `oversized body (${big.length} bytes, declared)`, path, headers: { ...JSON_TYPE }, body: big, expect: 'invalid', mayClose: true };
    if (v === 1) return { label: `oversized body (${big.length} bytes, chunked)`, path, headers: { ...JSON_TYPE }, body: big, chunked: true, expect: 'invalid', mayClose: true };
    return { label: `body longer than its Content-Length (${big.length} sent, 40 declared)`, path, headers: { ...JSON_TYPE, 'content-length': '40' }, body: big, expect: 'invalid', mayClose: true };
  }
  const origin = r.pick(['http://evil.example', 'null', c.origin, 'http://127.0.0.1:1']);
  const headers: Record<string, string> = { ...JSON_TYPE, origin };
  if (r.chance(0.3)) {
    delete headers.origin;
    headers['sec-fetch-site'] = 'cross-site';
  }
  return { label: `${headers.origin ? `Origin ${origin}` : 'Sec-Fetch-Site cross-site'}`, path, headers, body: toJson(base), expect: headers.origin === c.origin ? 'valid' : 'invalid' };
}

/** A request that declares more body than it sends: the server must cut it (BODY_TIMEOUT_MS), not wait for ever. */
export function slowBodyCase(c: BodyContext): BodyCase {
  return { label: 'declares 1000 bytes, sends 10, then waits', path: '/v1/vista3d/inference', headers: { ...JSON_TYPE, 'content-length': '1000' }, body: '{"image": ', expect: 'invalid', mayClose: true };
}

/** An image the host answers with HTTP 500 (an injected fault: 502 is the right answer). */
export function faultCase(c: BodyContext, kind: 'status500' | 'missing', i: number): BodyCase {
  const image = kind === 'status500' ? `${c.hostUrl}/status/500/ct-${i}.nii.gz` : `${c.hostUrl}/missing-${i}.nii.gz`;
  return { label: `image host fault: ${kind}`, path: '/v1/vista3d/inference', headers: { ...JSON_TYPE }, body: JSON.stringify({ image }), expect: 'invalid', allow5xx: [502] };
}
