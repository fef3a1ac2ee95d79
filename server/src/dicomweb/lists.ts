import type { RequestHandler } from 'express';
import { HttpError } from '../http/errors.ts';

/** Longest query string a DICOMweb request may carry. */
const MAX_QUERY_CHARS = 8192;
const FRAMES = /^(.*\/frames\/)([^/?]+)$/;

/**
 * Bounds what one DICOMweb request can ask for, for the embedded store and the proxy alike (one place): a frame
 * list (`…/frames/1,2,3`) holds positive integers, at most `maxEntries`, duplicates removed (so `1,1,1,…` cannot
 * multiply a response); a query holds at most `maxEntries` parameters, each list value (includefield=a,b,…) at
 * most `maxEntries` entries, `limit`/`offset` non-negative integers, and at most 8 KiB in all.
 */
export function boundedDicomwebLists(maxEntries: number): RequestHandler {
  return (req, _res, next) => {
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const query = q < 0 ? '' : req.url.slice(q + 1);
    if (query.length > MAX_QUERY_CHARS) return next(new HttpError(414, 'query_too_long', `the query string has ${query.length} characters; at most ${MAX_QUERY_CHARS}`));
    const params = new URLSearchParams(query);
    let count = 0;
    for (const [k, v] of params) {
      if (++count > maxEntries) return next(new HttpError(400, 'too_many_parameters', `more than ${maxEntries} query parameters (MAX_LIST_ENTRIES)`));
      const entries = v.split(',').length;
      if (entries > maxEntries) return next(new HttpError(400, 'list_too_long', `query parameter ${JSON.stringify(k.slice(0, 64))} lists ${entries} values; at most ${maxEntries} (MAX_LIST_ENTRIES)`));
      if ((k === 'limit' || k === 'offset') && !/^\d{1,9}$/.test(v)) return next(new HttpError(400, 'invalid_parameter', `${k} must be a non-negative integer, not ${JSON.stringify(v.slice(0, 32))}`));
    }
    const m = FRAMES.exec(path);
    if (m) {
      let raw: string[];
      try {
        raw = decodeURIComponent(m[2]).split(',');
      } catch {
        return next(new HttpError(400, 'invalid_frame_list', 'the frame list is not valid percent-encoding'));
      }
      if (raw.length > maxEntries) return next(new HttpError(400, 'list_too_long', `the frame list has ${raw.length} entries; at most ${maxEntries} (MAX_LIST_ENTRIES)`));
      const frames: number[] = [];
      for (const f of raw) {
        const t = f.trim();
        if (!/^[1-9]\d{0,8}$/.test(t)) return next(new HttpError(400, 'invalid_frame_list', `frame numbers are positive integers (from 1); got ${JSON.stringify(t.slice(0, 32))}`));
        const n = Number(t);
        if (!frames.includes(n)) frames.push(n);
      }
      req.url = `${m[1]}${frames.join(',')}${q < 0 ? '' : req.url.slice(q)}`;
    }
    next();
  };
}
