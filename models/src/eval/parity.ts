/**
 * Checks a bundle's ONNX graphs against the PyTorch outputs that models/training/train.py stored next to them
 * (`parity.json`): the same fixed patch through onnxruntime must give the same features and logits.
 */
import type { Backend } from '../backend/types.ts';
import { tensor } from '../backend/types.ts';
import type { ModelBundle } from '../pipeline/bundle.ts';

export interface ParityReference {
  roi: [number, number, number];
  classVector: number[];
  pointCoords: number[][];
  pointLabels: number[];
  pointClass: number;
  features: { shape: number[]; mean: number; probe: number[] };
  classLogits: { shape: number[]; mean: number; probe: number[] };
  pointLogits: { shape: number[]; mean: number; probe: number[] };
}

/** Largest absolute difference per output between onnxruntime (through `backend`) and the torch reference. */
export async function checkParity(bundle: ModelBundle, ref: ParityReference, backend: Backend): Promise<{ features: number; classLogits: number; pointLogits: number }> {
  const m = bundle.manifest;
  const [X, Y, Z] = ref.roi;
  // image[x, y, z] (z fastest) = 0.5 + 0.4 sin(0.3 x + 0.2 y + 0.1 z), as in train.py's export()
  const image = new Float32Array(X * Y * Z);
  let o = 0;
  for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) image[o++] = 0.5 + 0.4 * Math.sin(0.3 * x + 0.2 * y + 0.1 * z);
  const encoder = await backend.loadGraph(bundle.graphs.encoder, 'encoder');
  const classHead = await backend.loadGraph(bundle.graphs.classHead, 'classHead');
  const pointHead = await backend.loadGraph(bundle.graphs.pointHead, 'pointHead');
  try {
    const g = m.graphs;
    const features = (await encoder.run({ [g.encoder.inputs.image]: tensor('float32', image, [1, 1, X, Y, Z]) }))[g.encoder.outputs.features];
    const cl = (await classHead.run({
      [g.classHead.inputs.features]: features,
      [g.classHead.inputs.classVector]: tensor(m.inference.classVectorType, ref.classVector, [ref.classVector.length, 1]),
    }))[g.classHead.outputs.logits];
    const pt = (await pointHead.run({
      [g.pointHead.inputs.features]: features,
      [g.pointHead.inputs.pointCoords]: tensor('float32', ref.pointCoords.flat(), [1, ref.pointCoords.length, 3]),
      [g.pointHead.inputs.pointLabels]: tensor(m.inference.pointLabelsType, ref.pointLabels, [1, ref.pointLabels.length]),
      [g.pointHead.inputs.classVector]: tensor(m.inference.classVectorType, [ref.pointClass], [1, 1]),
    }))[g.pointHead.outputs.logits];
    const diff = (data: ArrayLike<number>, r: ParityReference['features']) => {
      const step = Math.max(1, Math.floor(data.length / 50));
      let worst = 0;
      r.probe.forEach((v, i) => (worst = Math.max(worst, Math.abs(data[i * step] - v))));
      return worst;
    };
    return { features: diff(features.data as Float32Array, ref.features), classLogits: diff(cl.data as Float32Array, ref.classLogits), pointLogits: diff(pt.data as Float32Array, ref.pointLogits) };
  } finally {
    await Promise.all([encoder.dispose(), classHead.dispose(), pointHead.dispose()]);
  }
}
