import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { downloadImage } from './download.ts';
import { ImageSource } from './imageSource.ts';

async function rejectsWith(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HttpError, `an HttpError, not ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.equal(e.status, status, e.message);
    assert.match(e.message, message);
    return true;
  });
}

describe('ImageSource.load: malformed URLs and paths are the client\'s 400', () => {
  let dir: string;
  let images: ImageSource;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vista3d-imagesource-'));
    images = new ImageSource(loadConfig({ IMAGE_ROOTS: dir }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // <dir>: the image root as a path, <dir-url>: as a file URL
  const CASES: [image: string, message: RegExp][] = [
    ['file://fileserver/share/ct.nii.gz', /names host "fileserver"; file:\/\/ URLs may only name this machine/],
    ['<dir-url>/%zz.nii', /malformed percent-encoding/],
    ['<dir-url>/%E0%A4%A.nii', /malformed percent-encoding/],
    ['<dir-url>/a%2Fb.nii', /must not include encoded \/ characters/],
    ['file://[::1%25lo]/x.nii', /not a valid URL: IPv6 zone ids/],
    ['http://[::1%25lo]/x.nii', /not a valid URL: IPv6 zone ids/],
    ['http://[fe80::1%25eth0]:8000/ct.nii.gz', /IPv6 zone ids/],
    ['http://exa mple.org/ct.nii.gz', /is not a valid URL$/],
    ['http://192.0.2.1/%zz.nii', /has a malformed percent-encoding in its path/],
    ['https://192.0.2.1/%E0%A4%A.nii.gz', /has a malformed percent-encoding in its path/],
    ['<dir>/a\0b.nii', /contains a NUL character/],
    ['<dir-url>/a%00b.nii', /contains a NUL character/],
  ];
  for (const [image, message] of CASES) {
    it(`${JSON.stringify(image)} → 400`, async () => {
      await rejectsWith(images.load(image.replace('<dir-url>', pathToFileURL(dir).href).replace('<dir>', dir)), 400, message);
    });
  }

  it('file://localhost/… and file:///… still name local files', async () => {
    await rejectsWith(images.load(`file://localhost${dir}/missing.nii`), 404, /does not exist/);
    await rejectsWith(images.load(`${pathToFileURL(dir).href}/missing%20file.nii`), 404, /missing file\.nii" does not exist/);
  });
});

describe('downloadImage: a redirect to something that is no URL', () => {
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((_req, res) => res.writeHead(302, { location: 'http://[::1%25lo]/x.nii' }).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('is the image host\'s fault: 502 naming the location', async () => {
    const { images } = loadConfig({ IMAGE_URI_ALLOWED_NETWORKS: '127.0.0.0/8', DOWNLOAD_TIMEOUT_MS: '5000' });
    await rejectsWith(downloadImage(`${base}/ct.nii.gz`, images), 502, /redirects to "http:\/\/\[::1%25lo\]\/x\.nii", which is not a valid URL/);
  });
});
