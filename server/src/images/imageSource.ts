import { stat } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectFormat, readVolumeBytes, type Volume } from '@vista3d/models';
import { isInside, readVolumeFile, resolveInside } from '@vista3d/models/node';
import type { Config } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import type { DicomwebSeriesLoader } from './dicomwebSeries.ts';
import { downloadImage } from './download.ts';

/** An image ready for the pipeline, with the name its result file is derived from. */
export interface LoadedImage {
  volume: Volume;
  /** File or folder name of the input (`ct.nii.gz`, `series-folder`), for `<stem>_seg.<ext>`. */
  name: string;
  format: 'nifti' | 'nrrd' | 'dicom';
  /** What the reader had to assume (a NIfTI geometry fallback, NaN voxels): told to the client and logged. */
  warnings: string[];
}

/**
 * Resolves the NIM request's `image` — an http(s) URL, a `file://` URL or a path — into a volume, with the
 * network guard, the path confinement (IMAGE_ROOTS, after symlinks) and the size limits applied.
 */
export class ImageSource {
  /** @param series reads DICOMweb series URLs (`/dicomweb/studies/…/series/…`, DICOMWEB_URL); none: not accepted. */
  constructor(
    private readonly config: Config,
    private readonly series?: DicomwebSeriesLoader,
  ) {}

  async load(image: string, signal?: AbortSignal): Promise<LoadedImage> {
    const seriesRef = this.series?.parse(image);
    if (seriesRef) return this.series!.load(seriesRef, signal);
    if (/^https?:\/\//i.test(image)) {
      checkHttpUrl(image);
      return this.loadUrl(image, signal);
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(image) && !/^file:\/\//i.test(image)) {
      throw new HttpError(400, 'invalid_image_url', `image URL scheme of ${JSON.stringify(image.slice(0, 80))} is not supported; use http(s), file:// or a path`);
    }
    const path = /^file:\/\//i.test(image) ? filePath(image) : image;
    if (path.includes('\0')) throw new HttpError(400, 'invalid_image_path', `image path ${quoted(image)} contains a NUL character`);
    return this.loadPath(path, signal);
  }

  private checkExtension(name: string, isFolder: boolean): void {
    const exts = this.config.images.supportedExtensions;
    if (isFolder) {
      if (!exts.includes('.dcm')) throw new HttpError(415, 'unsupported_format', 'DICOM folders are not enabled (".dcm" is not in SUPPORTED_IMAGE_EXT)');
      return;
    }
    const lower = name.toLowerCase();
    if (!exts.some((x) => lower.endsWith(x))) {
      throw new HttpError(415, 'unsupported_format', `image ${JSON.stringify(name)} has an unsupported extension; supported: ${exts.join(', ')}`);
    }
  }

  private async loadUrl(image: string, signal?: AbortSignal): Promise<LoadedImage> {
    const pathName = decodeURIComponent(new URL(image).pathname.split('/').pop() ?? '');
    this.checkExtension(pathName, false);
    const { bytes } = await downloadImage(image, this.config.images, signal);
    const warnings: string[] = [];
    const volume = readVolumeBytes(bytes, pathName, { limits: this.config.limits, onWarning: (w) => warnings.push(w) });
    // readVolumeBytes has refused every name but NIfTI and NRRD ones
    return { volume, name: pathName, format: detectFormat(pathName) === 'nrrd' ? 'nrrd' : 'nifti', warnings };
  }

  private async loadPath(path: string, signal?: AbortSignal): Promise<LoadedImage> {
    const roots = this.config.imageRoots;
    if (!roots.length) throw new HttpError(403, 'local_paths_disabled', 'local image paths are disabled on this server (set IMAGE_ROOTS to allow folders)');
    const abs = isAbsolute(path) ? resolve(path) : resolve(roots[0], path);
    if (!roots.some((r) => isInside(r, abs))) throw new HttpError(403, 'path_not_allowed', `image path ${JSON.stringify(path)} is outside the allowed image folders`);
    const real = await resolveInside(abs, roots);
    if (!real) {
      const exists = await stat(abs).then(() => true, () => false);
      throw exists
        ? new HttpError(403, 'path_not_allowed', `image path ${JSON.stringify(path)} leads (through a link) outside the allowed image folders`)
        : new HttpError(404, 'image_not_found', `image ${JSON.stringify(path)} does not exist`);
    }
    const isFolder = (await stat(real)).isDirectory();
    this.checkExtension(basename(real), isFolder);
    const warnings: string[] = [];
    const f = await readVolumeFile(real, { limits: this.config.limits, dataFileRoots: roots, signal, onWarning: (w) => warnings.push(w) });
    return { volume: f.volume, name: basename(abs), format: f.format, warnings };
  }
}

const quoted = (s: string) => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** The URL `image` is, or a 400 naming the likely cause when `new URL` refuses it. */
function parseUrl(image: string): URL {
  try {
    return new URL(image);
  } catch {
    const why = /^[a-z]+:\/\/[^/?#]*\[[^\]]*%/i.test(image) ? ': IPv6 zone ids ("%25…" inside [ ]) are not allowed in image URLs' : '';
    throw new HttpError(400, 'invalid_image_url', `image ${quoted(image)} is not a valid URL${why}`);
  }
}

/**
 * Parses an http(s) image URL as far as naming its file needs, so that a malformed one is the client's 400, not
 * a 500 from deeper down: the URL itself (a zone id in an IPv6 literal is refused there) and its path's
 * percent-encoding (`%zz`, a cut-off `%E0%A4%A`).
 */
function checkHttpUrl(image: string): void {
  const url = parseUrl(image);
  try {
    decodeURIComponent(url.pathname);
  } catch {
    throw new HttpError(400, 'invalid_image_url', `image URL ${quoted(image)} has a malformed percent-encoding in its path (each % must start a UTF-8 %XX escape)`);
  }
}

/** The local path a `file://` URL names; every way Node refuses one becomes a 400 saying why. */
function filePath(image: string): string {
  const url = parseUrl(image);
  if (url.hostname && url.hostname !== 'localhost') {
    throw new HttpError(400, 'invalid_image_url', `file URL ${quoted(image)} names host ${JSON.stringify(url.hostname)}; file:// URLs may only name this machine (file:///path or file://localhost/path)`);
  }
  try {
    return fileURLToPath(url);
  } catch (e) {
    if (e instanceof URIError) throw new HttpError(400, 'invalid_image_url', `file URL ${quoted(image)} has a malformed percent-encoding (each % must start a UTF-8 %XX escape)`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_INVALID_FILE_URL_PATH') throw new HttpError(400, 'invalid_image_url', `file URL ${quoted(image)} is not a usable path: ${(e as Error).message}`);
    throw new HttpError(400, 'invalid_image_url', `file URL ${quoted(image)} is not a valid file URL`);
  }
}
