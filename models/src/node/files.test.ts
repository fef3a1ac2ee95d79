import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidImageError } from '../errors.ts';
import type { Volume } from '../geometry/volume.ts';
import { writeDicomSeries } from '../io/dicomWrite.ts';
import { readVolumeFile } from './files.ts';

// A read that regresses into blocking on a FIFO fails by this timeout instead of hanging the run.
const T = { timeout: 5000 };

/** A 3×2×3 int16 volume, identity direction, 1 mm: three DICOM slices. */
function tinyVolume(): Volume<Int16Array> {
  return { data: Int16Array.from({ length: 18 }, (_, i) => i * 10 - 50), dims: [3, 2, 3], spacing: [1, 1, 1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], origin: [0, 0, 0] };
}

async function writeSeries(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of writeDicomSeries(tinyVolume(), { seed: 1 })) await writeFile(join(dir, f.name), f.bytes);
}

function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

describe('readVolumeFile: only regular files and folders', () => {
  let root: string;
  let outside: string;
  let socketServer: Server;
  const fifos: string[] = [];

  before(async () => {
    const base = await mkdtemp(join(tmpdir(), 'vista3d-files-'));
    root = join(base, 'root');
    outside = join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    fifos.push(mkfifo(join(root, 'pipe.nii')), mkfifo(join(root, 'pipe.raw')));
    socketServer = createServer();
    await new Promise<void>((r) => socketServer.listen(join(root, 'socket.nii'), r));
  });

  after(async () => {
    // unblock a reader stuck on a FIFO (a regression), so the process can end
    for (const f of fifos) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* no reader: nothing to unblock */
      }
    }
    await new Promise<void>((r) => socketServer.close(() => r()));
    await rm(join(root, '..'), { recursive: true, force: true });
  });

  const SPECIAL: [name: string, path: () => string, kind: RegExp][] = [
    ['a FIFO', () => join(root, 'pipe.nii'), /image pipe\.nii is a FIFO; only regular files and DICOM folders are read/],
    ['a socket', () => join(root, 'socket.nii'), /image socket\.nii is a socket/],
    ['a character device', () => '/dev/null', /image null is a character device/],
  ];
  for (const [name, path, kind] of SPECIAL) {
    it(`refuses ${name} before opening it`, T, async () => {
      await assert.rejects(readVolumeFile(path(), { dataFileRoots: [root] }), (e: unknown) => e instanceof InvalidImageError && kind.test(e.message));
    });
  }

  it('refuses a detached NRRD data file that is a FIFO', T, async () => {
    const header = ['NRRD0004', 'type: uint8', 'dimension: 3', 'sizes: 2 2 2', 'encoding: raw', 'data file: pipe.raw', ''].join('\n');
    await writeFile(join(root, 'detached.nhdr'), header);
    await assert.rejects(readVolumeFile(join(root, 'detached.nhdr'), { dataFileRoots: [root] }), (e: unknown) => e instanceof InvalidImageError && /NRRD data file pipe\.raw is a FIFO/.test(e.message));
  });

  it('skips a FIFO (and a dangling link) among DICOM folder members, never opening it', T, async () => {
    const dir = join(root, 'series-with-fifo');
    await writeSeries(dir);
    fifos.push(mkfifo(join(dir, 'zz-pipe.dcm')));
    await symlink(join(root, 'gone.dcm'), join(dir, 'zz-dangling.dcm'));
    for (const options of [{ dataFileRoots: [root] }, {}]) {
      const f = await readVolumeFile(dir, options);
      assert.equal(f.format, 'dicom');
      assert.deepEqual(f.volume.dims, [3, 2, 3]);
      assert.equal(f.dicom?.sopInstanceUids.length, 3);
    }
  });

  it('refuses a DICOM folder member that links outside the roots, naming it; links inside are read', T, async () => {
    await writeSeries(join(outside, 'secret'));
    await writeSeries(join(root, 'elsewhere-in-root'));
    const dir = join(root, 'series-with-links');
    await writeSeries(dir);
    const [first] = writeDicomSeries(tinyVolume(), { seed: 1 });
    // replace one slice by a link to the same slice in another folder inside the root: allowed
    await rm(join(dir, first.name));
    await symlink(join(root, 'elsewhere-in-root', first.name), join(dir, first.name));
    assert.equal((await readVolumeFile(dir, { dataFileRoots: [root] })).dicom?.sopInstanceUids.length, 3);
    // now a link to a file outside the root
    await rm(join(dir, first.name));
    await symlink(join(outside, 'secret', first.name), join(dir, first.name));
    await assert.rejects(
      readVolumeFile(dir, { dataFileRoots: [root] }),
      (e: unknown) => e instanceof InvalidImageError && e.message === `DICOM folder series-with-links: member ${JSON.stringify(first.name)} leads (through a link) outside the allowed image folders`,
    );
    // without roots (a trusted caller such as the CLI reading its own files) members are not confined
    assert.equal((await readVolumeFile(dir)).dicom?.sopInstanceUids.length, 3);
  });

  it('a folder reached through a link, with roots naming the link\'s folder, still reads its own members', T, async () => {
    const real = join(outside, 'linked-series');
    await writeSeries(real);
    const link = join(root, 'linked');
    await symlink(real, link);
    assert.equal((await readVolumeFile(link, { dataFileRoots: [root] })).dicom?.sopInstanceUids.length, 3);
  });
});
