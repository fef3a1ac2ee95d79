/**
 * multipart/related bodies as DICOMweb uses them (PS3.18 §8.7.1, RFC 2387): WADO-RS responses (frames, Part 10
 * instances) and STOW-RS requests. Parts are raw bytes; no base64, no nested multiparts.
 */
import { randomBytes } from 'node:crypto';

export interface Part {
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The parameters of a media type (`multipart/related; type="application/dicom"; boundary=x`), names lower-cased. */
export function mediaTypeParams(contentType: string): { type: string; params: Record<string, string> } {
  const [type, ...rest] = splitOutsideQuotes(contentType, ';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Splits on `sep` where it is not inside double quotes. */
export function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** A boundary that cannot plausibly occur in binary payloads. */
export function newBoundary(): string {
  return `vista3d-${randomBytes(16).toString('hex')}`;
}

/** The body of a multipart/related message holding `parts` (each with its own Content-Type). */
export function buildMultipart(parts: readonly { contentType: string; body: Uint8Array; location?: string }[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head = `--${boundary}\r\nContent-Type: ${p.contentType}\r\n${p.location ? `Content-Location: ${p.location}\r\n` : ''}Content-Length: ${p.body.byteLength}\r\n\r\n`;
    chunks.push(Buffer.from(head, 'latin1'), Buffer.from(p.body.buffer, p.body.byteOffset, p.body.byteLength), Buffer.from('\r\n', 'latin1'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}

/**
 * Splits a multipart body into its parts. `contentType` must be multipart/* with a boundary. Part bodies are
 * views into `body` (no copies). Throws a plain Error saying what is wrong; callers map it to their status.
 */
export function parseMultipart(body: Uint8Array, contentType: string): Part[] {
  const { type, params } = mediaTypeParams(contentType);
  if (!type.startsWith('multipart/')) throw new Error(`expected a multipart body, got Content-Type ${JSON.stringify(contentType)}`);
  const boundary = params.boundary;
  if (!boundary) throw new Error(`Content-Type ${JSON.stringify(contentType)} has no boundary`);
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Part[] = [];
  let at = buf.indexOf(delimiter);
  if (at < 0) throw new Error('the multipart body holds no boundary line');
  for (;;) {
    let start = at + delimiter.length;
    if (buf[start] === 0x2d && buf[start + 1] === 0x2d) break; // closing delimiter "--boundary--"
    // rest of the boundary line (transport padding) up to CRLF
    const eol = buf.indexOf('\r\n', start, 'latin1');
    if (eol < 0) throw new Error('the multipart body ends inside a boundary line');
    start = eol + 2;
    const headerEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
    const next = buf.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), delimiter]), start);
    if (next < 0) throw new Error('the multipart body is truncated (no closing boundary)');
    const headers: Record<string, string> = {};
    let bodyStart: number;
    if (buf.subarray(start, start + 2).toString('latin1') === '\r\n') bodyStart = start + 2; // no headers
    else {
      if (headerEnd < 0 || headerEnd > next) throw new Error('a multipart part has no blank line after its headers');
      for (const line of buf.subarray(start, headerEnd).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      bodyStart = headerEnd + 4;
    }
    parts.push({ headers, body: new Uint8Array(buf.buffer, buf.byteOffset + bodyStart, next - bodyStart) });
    at = next + 2;
  }
  return parts;
}
