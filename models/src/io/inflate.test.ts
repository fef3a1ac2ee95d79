import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'fflate';
import * as nodeInflate from './inflate.node.ts';
import * as webInflate from './inflate.web.ts';

describe('bounded gunzip, Node (zlib) and browser (fflate) implementations', () => {
  const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251);
  const twoMembers = new Uint8Array([...gzipSync(data.subarray(0, 1000)), ...gzipSync(data.subarray(1000, 3000))]);
  for (const [name, impl] of [['node', nodeInflate], ['web', webInflate]] as const) {
    it(`${name}: round trip, concatenated members, the limit, corrupt data`, () => {
      assert.deepEqual(impl.gunzipLimited(gzipSync(data), data.length), data);
      assert.deepEqual(impl.gunzipLimited(twoMembers, 10_000), data.subarray(0, 3000));
      assert.throws(() => impl.gunzipLimited(gzipSync(new Uint8Array(5_000_000)), 1_000_000), (e: Error) => e instanceof RangeError && e.message === 'over limit');
      const whole = gzipSync(data);
      assert.throws(() => impl.gunzipLimited(whole.subarray(0, whole.length >> 1), 1_000_000), (e: Error) => !(e instanceof RangeError && e.message === 'over limit'), 'truncated');
    });
    it(`${name}: gzipBytes round-trips through the other implementation, label strategy included`, () => {
      const labels = Uint8Array.from({ length: 200_000 }, (_, i) => (i > 50_000 && i < 90_000 ? 3 : 0));
      for (const rle of [false, true]) {
        const z = impl.gzipBytes(labels, 6, rle);
        assert.deepEqual(nodeInflate.gunzipLimited(z, labels.length), labels);
        assert.deepEqual(webInflate.gunzipLimited(z, labels.length), labels);
        assert.ok(z.length < 2000, `${z.length} bytes`);
      }
    });
  }
});
