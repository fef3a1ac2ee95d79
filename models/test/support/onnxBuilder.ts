import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A tiny ONNX graph builder for tests and benches: tests build their own models whose exact output is known,
 * so that an off-by-one in a window, a flipped axis or a wrong inverse resampling fails a test.
 */
export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

type Dim = number | string;
type AttrValue = number | number[] | string | Float32Array;

export interface GraphSpec {
  inputs: { name: string; type: number; dims: Dim[] }[];
  outputs: { name: string; type: number; dims: Dim[] }[];
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrValue> }[];
  initializers?: { name: string; dims: number[]; data: Float32Array | number[]; type?: number }[];
}

function valueInfo(v: { name: string; type: number; dims: Dim[] }) {
  return {
    name: v.name,
    type: { tensorType: { elemType: v.type, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  return { name, type: T.INTS, ints: v };
}

export function buildModel(spec: GraphSpec, opset = 17): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'vista3d-ohif tests',
    graph: {
      name: 'g',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (spec.initializers ?? []).map((t) =>
        (t.type ?? FLOAT) === INT64
          ? { name: t.name, dims: t.dims, dataType: INT64, int64Data: Array.from(t.data) }
          : { name: t.name, dims: t.dims, dataType: FLOAT, rawData: new Uint8Array(Float32Array.from(t.data).buffer) },
      ),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
