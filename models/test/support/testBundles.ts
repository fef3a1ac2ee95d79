import type { ModelBundle } from '../../src/pipeline/bundle.ts';
import { parseManifest } from '../../src/pipeline/manifest.ts';
import { buildModel, FLOAT, INT64 } from './onnxBuilder.ts';

/**
 * "Exact" test bundle: a model whose output is known in closed form.
 * - encoder: features = the normalised image (identity); intensities pass through unchanged (window 0…1000).
 * - class head: logit of class c = 0.05 − |I − c/10|, so a voxel of intensity c/10 (±0.05) is class c.
 * - point head: logit = min(I − 0.25, radius² − |v − p₀|²) with p₀ the first click (patch voxel coordinates):
 *   the bright voxels within `radius` voxels of the click.
 * Blending identical per-voxel logits gives them back, so every window layout must reproduce the closed form.
 */
export interface ExactBundleOptions {
  roi?: [number, number, number];
  overlap?: number;
  blending?: 'gaussian' | 'constant';
  spacing?: [number, number, number];
  orientation?: string;
  foregroundCrop?: { threshold: number; margin: number } | null;
  radius?: number;
  labels?: Record<string, string>;
  supportedLabels?: number[];
}

/** The graph files and tensor names of the test bundles (those the export scripts write too). */
export const GRAPH_NAMES = {
  encoder: { file: 'encoder.onnx', inputs: { image: 'image' }, outputs: { features: 'features' } },
  classHead: { file: 'class_head.onnx', inputs: { features: 'features', classVector: 'class_vector' }, outputs: { logits: 'logits' } },
  pointHead: {
    file: 'point_head.onnx',
    inputs: { features: 'features', pointCoords: 'point_coords', pointLabels: 'point_labels', classVector: 'class_vector' },
    outputs: { logits: 'logits' },
  },
} as const;

const VISTA_LIKE_LABELS: Record<string, string> = {
  '1': 'liver', '2': 'kidney', '3': 'spleen', '5': 'right kidney', '6': 'aorta', '14': 'left kidney', '20': 'lung',
  '23': 'lung tumor', '28': 'left lung upper lobe', '29': 'left lung lower lobe',
};

export function exactBundle(o: ExactBundleOptions = {}): ModelBundle {
  const roi = o.roi ?? [8, 8, 8];
  const [X, Y, Z] = roi;
  const radius = o.radius ?? 100;
  const manifest = parseManifest({
    schemaVersion: 1,
    name: 'exact-test',
    version: '0',
    labels: o.labels ?? VISTA_LIKE_LABELS,
    supportedLabels: o.supportedLabels,
    everything: [1, 3, 6],
    subclasses: { '2': [14, 5], '20': [28, 29] },
    noPointPrompts: [2, 20],
    specialClasses: [23],
    preprocessing: {
      orientation: o.orientation ?? 'RAS',
      spacing: o.spacing ?? [1, 1, 1],
      intensity: { min: 0, max: 1000, outMin: 0, outMax: 1000, clip: false },
      foregroundCrop: o.foregroundCrop ?? null,
    },
    inference: { roiSize: roi, overlap: o.overlap ?? 0.25, blending: o.blending ?? 'gaussian', maxClassesPerRun: 2 },
    graphs: GRAPH_NAMES,
  });
  const patch = [1, 1, X, Y, Z];
  const encoder = buildModel({
    inputs: [{ name: 'image', type: FLOAT, dims: patch }],
    outputs: [{ name: 'features', type: FLOAT, dims: patch }],
    nodes: [{ op: 'Identity', inputs: ['image'], outputs: ['features'] }],
  });
  const classHead = buildModel({
    inputs: [
      { name: 'features', type: FLOAT, dims: patch },
      { name: 'class_vector', type: INT64, dims: ['B', 1] },
    ],
    outputs: [{ name: 'logits', type: FLOAT, dims: ['B', 1, X, Y, Z] }],
    nodes: [
      { op: 'Cast', inputs: ['class_vector'], outputs: ['cf'], attrs: { to: FLOAT } },
      { op: 'Reshape', inputs: ['cf', 'shape5'], outputs: ['c5'] },
      { op: 'Mul', inputs: ['c5', 'tenth'], outputs: ['ct'] },
      { op: 'Sub', inputs: ['features', 'ct'], outputs: ['d'] },
      { op: 'Abs', inputs: ['d'], outputs: ['ad'] },
      { op: 'Sub', inputs: ['half_band', 'ad'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'shape5', dims: [5], data: [-1, 1, 1, 1, 1], type: INT64 },
      { name: 'tenth', dims: [], data: [0.1] },
      { name: 'half_band', dims: [], data: [0.05] },
    ],
  });
  const grids = [0, 1, 2].map((axis) => {
    const g = new Float32Array(X * Y * Z);
    let i = 0;
    for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) g[i++] = [x, y, z][axis];
    return { name: `grid${axis}`, dims: patch, data: g };
  });
  const axisNodes = [0, 1, 2].flatMap((k) => [
    // the k-th coordinate of the first point: Slice(starts=[0,0,k], ends=[1,1,k+1])
    { op: 'Slice', inputs: ['point_coords', `starts${k}`, `ends${k}`, 'axes3', 'ones3'], outputs: [`s${k}`] },
    { op: 'Reshape', inputs: [`s${k}`, 'shape5'], outputs: [`p${k}`] },
    { op: 'Sub', inputs: [`grid${k}`, `p${k}`], outputs: [`d${k}`] },
    { op: 'Mul', inputs: [`d${k}`, `d${k}`], outputs: [`q${k}`] },
  ]);
  const pointHead = buildModel({
    inputs: [
      { name: 'features', type: FLOAT, dims: patch },
      { name: 'point_coords', type: FLOAT, dims: [1, 'N', 3] },
      { name: 'point_labels', type: INT64, dims: [1, 'N'] },
      { name: 'class_vector', type: INT64, dims: [1, 1] },
    ],
    outputs: [{ name: 'logits', type: FLOAT, dims: patch }],
    nodes: [
      ...axisNodes,
      { op: 'Add', inputs: ['q0', 'q1'], outputs: ['q01'] },
      { op: 'Add', inputs: ['q01', 'q2'], outputs: ['dist2'] },
      { op: 'Sub', inputs: ['r2', 'dist2'], outputs: ['inside'] },
      { op: 'Sub', inputs: ['features', 'half'], outputs: ['bright'] },
      { op: 'Min', inputs: ['inside', 'bright'], outputs: ['logits'] },
    ],
    initializers: [
      ...grids,
      ...[0, 1, 2].map((k) => ({ name: `starts${k}`, dims: [3], data: [0, 0, k], type: INT64 })),
      ...[0, 1, 2].map((k) => ({ name: `ends${k}`, dims: [3], data: [1, 1, k + 1], type: INT64 })),
      { name: 'axes3', dims: [3], data: [0, 1, 2], type: INT64 },
      { name: 'ones3', dims: [3], data: [1, 1, 1], type: INT64 },
      { name: 'shape5', dims: [5], data: [1, 1, 1, 1, 1], type: INT64 },
      { name: 'r2', dims: [], data: [radius * radius] },
      { name: 'half', dims: [], data: [0.25] },
    ],
  });
  return { manifest, graphs: { encoder, classHead, pointHead } };
}

/** Writes a bundle as a folder (model.json + ONNX files), as the server and the CLI load them. */
export async function writeBundleDir(dir: string, bundle: ModelBundle): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), JSON.stringify(bundle.manifest, null, 2));
  for (const [g, bytes] of Object.entries(bundle.graphs)) await writeFile(join(dir, bundle.manifest.graphs[g as keyof ModelBundle['graphs']].file), bytes);
}
