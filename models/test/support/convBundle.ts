import type { ModelBundle } from '../../src/pipeline/bundle.ts';
import { parseManifest } from '../../src/pipeline/manifest.ts';
import { buildModel, FLOAT, INT64 } from './onnxBuilder.ts';
import { GRAPH_NAMES } from './testBundles.ts';

/**
 * A Conv3d-heavy bundle with seeded random weights, the shape of VISTA3D's graphs at a small scale: the encoder
 * is `layers` 3×3×3 convolutions with ReLU (1 → channels → … channels), the heads 1×1×1 convolutions. Its output
 * means nothing; it exists to measure the pipeline's overhead around ONNX Runtime.
 */
export function convBundle(o: { roi?: number; channels?: number; layers?: number; spacing?: number; seed?: number } = {}): ModelBundle {
  const roi = o.roi ?? 64;
  const C = o.channels ?? 8;
  const layers = o.layers ?? 3;
  let s = o.seed ?? 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.4;
  const patch = [1, 1, roi, roi, roi];
  const feat = [1, C, roi, roi, roi];
  const convs = Array.from({ length: layers }, (_, i) => {
    const cin = i === 0 ? 1 : C;
    return {
      node: [
        { op: 'Conv', inputs: [i === 0 ? 'image' : `h${i - 1}`, `w${i}`, `b${i}`], outputs: [`c${i}`], attrs: { pads: [1, 1, 1, 1, 1, 1], kernel_shape: [3, 3, 3] } },
        { op: 'Relu', inputs: [`c${i}`], outputs: [i === layers - 1 ? 'features' : `h${i}`] },
      ],
      init: [
        { name: `w${i}`, dims: [C, cin, 3, 3, 3], data: Float32Array.from({ length: C * cin * 27 }, rand) },
        { name: `b${i}`, dims: [C], data: Float32Array.from({ length: C }, rand) },
      ],
    };
  });
  const encoder = buildModel({
    inputs: [{ name: 'image', type: FLOAT, dims: patch }],
    outputs: [{ name: 'features', type: FLOAT, dims: feat }],
    nodes: convs.flatMap((c) => c.node),
    initializers: convs.flatMap((c) => c.init),
  });
  const head = (extra: { name: string; type: number; dims: (number | string)[] }[], batch: string | number) =>
    buildModel({
      inputs: [{ name: 'features', type: FLOAT, dims: feat }, ...extra],
      outputs: [{ name: 'logits', type: FLOAT, dims: [batch, 1, roi, roi, roi] }],
      nodes: [
        { op: 'Conv', inputs: ['features', 'hw', 'hb'], outputs: ['one'], attrs: { kernel_shape: [1, 1, 1] } },
        { op: 'Cast', inputs: ['class_vector'], outputs: ['cf'], attrs: { to: FLOAT } },
        { op: 'Reshape', inputs: ['cf', 'shape5'], outputs: ['c5'] },
        { op: 'Mul', inputs: ['c5', 'eps'], outputs: ['bias'] },
        { op: 'Add', inputs: ['one', 'bias'], outputs: ['logits'] },
      ],
      initializers: [
        { name: 'hw', dims: [1, C, 1, 1, 1], data: Float32Array.from({ length: C }, rand) },
        { name: 'hb', dims: [1], data: [0] },
        { name: 'shape5', dims: [5], data: [-1, 1, 1, 1, 1], type: INT64 },
        { name: 'eps', dims: [], data: [1e-3] },
      ],
    });
  const classHead = head([{ name: 'class_vector', type: INT64, dims: ['B', 1] }], 'B');
  const pointHead = head(
    [
      { name: 'point_coords', type: FLOAT, dims: [1, 'N', 3] },
      { name: 'point_labels', type: INT64, dims: [1, 'N'] },
      { name: 'class_vector', type: INT64, dims: [1, 1] },
    ],
    1,
  );
  const sp = o.spacing ?? 1.5;
  const manifest = parseManifest({
    schemaVersion: 1,
    name: `conv3d-bench-${C}x${layers}`,
    version: '0',
    labels: { '1': 'liver', '3': 'spleen', '6': 'aorta' },
    everything: [1, 3, 6],
    preprocessing: { orientation: 'RAS', spacing: [sp, sp, sp], intensity: { min: -963.8247715525971, max: 1053.678477684517 }, foregroundCrop: { threshold: -500, margin: 10 } },
    inference: { roiSize: [roi, roi, roi], overlap: 0.3, blending: 'gaussian' },
    graphs: GRAPH_NAMES,
  });
  return { manifest, graphs: { encoder, classHead, pointHead } };
}
