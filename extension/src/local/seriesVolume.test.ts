import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readDicomSeries, type Volume } from '@vista3d/models';
import { generatePhantom, phantomDicomSeries } from '@vista3d/models/phantom';
import { seriesVolume, type CachedImage } from './seriesVolume.ts';

/**
 * The viewer's volume of a series against the server's: the same DICOM files read by the server's reader, and
 * presented as Cornerstone presents them (imagePlaneModule / modalityLutModule metadata, one cached image per
 * file, in any order, pixels scaled by the loader or not).
 */
function asViewer(files: { bytes: Uint8Array }[], opts: { scaled: boolean; reverse: boolean }) {
  const meta = new Map<string, { plane: any; lut: any }>();
  const images = new Map<string, CachedImage>();
  const ids: string[] = [];
  files.forEach((f, n) => {
    const v = readDicomSeries([{ name: `f${n}`, bytes: f.bytes }]);
    const id = `wadors:f${n}`;
    ids.push(id);
    const d = v.direction;
    meta.set(id, {
      plane: { rows: v.dims[1], columns: v.dims[0], imagePositionPatient: [...v.origin], rowCosines: [d[0], d[3], d[6]], columnCosines: [d[1], d[4], d[7]], rowPixelSpacing: v.spacing[1], columnPixelSpacing: v.spacing[0] },
      lut: { rescaleSlope: 1, rescaleIntercept: -1024 },
    });
    // HU as the server reads them; stored values = HU + 1024 for the unscaled case
    const pixels = opts.scaled ? Int16Array.from(v.data) : Uint16Array.from(v.data, (x) => x + 1024);
    images.set(id, { getPixelData: () => pixels, preScale: { scaled: opts.scaled } });
  });
  if (opts.reverse) ids.reverse();
  return {
    ds: { displaySetInstanceUID: 'ds', StudyInstanceUID: 's', SeriesInstanceUID: 'se', imageIds: ids },
    src: { metaData: { get: (type: string, id: string) => (type === 'imagePlaneModule' ? meta.get(id)!.plane : meta.get(id)!.lut) }, image: async (id: string) => images.get(id)! },
  };
}

describe('seriesVolume: the viewer builds the volume the server reads', () => {
  const phantom = generatePhantom({ seed: 3, kind: 'torso', dims: [40, 32, 24], spacing: [2.5, 2.5, 3] });
  const files = phantomDicomSeries(phantom);
  const server: Volume = readDicomSeries(files.map((f, n) => ({ name: `f${n}`, bytes: f.bytes })));
  for (const scaled of [true, false])
    for (const reverse of [false, true])
      it(`pixels ${scaled ? 'scaled by the loader' : 'as stored (rescaled here)'}, image ids ${reverse ? 'reversed' : 'as written'}`, async () => {
        const { ds, src } = asViewer(files, { scaled, reverse });
        const v = await seriesVolume(src, ds);
        assert.equal(v.data.constructor, server.data.constructor, 'the server reader\'s voxel type');
        assert.deepEqual(v.dims, server.dims);
        for (const k of ['spacing', 'direction', 'origin'] as const) v[k].forEach((x, i) => assert.ok(Math.abs(x - server[k][i]) < 1e-9, `${k}: ${v[k]} vs ${server[k]}`));
        let differ = 0;
        for (let p = 0; p < v.data.length; p++) if (v.data[p] !== server.data[p]) differ++;
        assert.equal(differ, 0, `${differ} voxels differ`);
      });
});
