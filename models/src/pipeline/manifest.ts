import { z } from 'zod';
import { ModelBundleError } from '../errors.ts';

/**
 * The schema of a model bundle's `model.json`: everything model-specific lives here, never in code
 * (STYLE rule 5). Label indices are VISTA3D's global indices (0 = background).
 */
const vec3 = z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]);
const intVec3 = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);
const labelIndex = z.number().int().min(1).max(254);

const graph = <I extends z.ZodRawShape, O extends z.ZodRawShape>(inputs: I, outputs: O) =>
  z.object({
    file: z.string().regex(/^[\w.-]+\.onnx$/, 'a file name inside the bundle folder, ending in .onnx'),
    /** SHA-256 of the file (lower-case hex): a browser checks what it downloaded (and cached) against it. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits').optional(),
    /** Size of the file in bytes: a browser refuses a model too large for it before downloading any. */
    bytes: z.number().int().positive().optional(),
    inputs: z.object(inputs),
    outputs: z.object(outputs),
  });

export const ModelManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().default(''),
    /** Every label name the model family knows, index → name (the full VISTA3D dictionary for VISTA3D). */
    labels: z.record(z.string().regex(/^\d+$/), z.string().min(1)),
    /** Labels this model can actually segment; absent = every entry of `labels`. */
    supportedLabels: z.array(labelIndex).optional(),
    /** The classes segmented when a request has no prompts. */
    everything: z.array(labelIndex),
    /** A class prompt of the key stands for all of its members (e.g. kidney → left + right kidney). */
    subclasses: z.record(z.string().regex(/^\d+$/), z.array(labelIndex)).default({}),
    /** Classes that cannot take point prompts (the group classes). */
    noPointPrompts: z.array(labelIndex).default([]),
    /** Classes whose points use the special labels (2 = negative, 3 = positive): tumours and vessels. */
    specialClasses: z.array(labelIndex).default([]),
    /** Indices from here up to 254 mean "a new structure" (zero-shot, points only). */
    zeroShotFrom: labelIndex.default(133),
    notProcessedValue: z.number().int().min(1).max(255).default(255),
    preprocessing: z.object({
      /** Orientation of model space, as three letters of the axes' positive directions (e.g. "RAS"). */
      orientation: z.string().regex(/^(?:[RL][AP][SI]|[RL][SI][AP]|[AP][RL][SI]|[AP][SI][RL]|[SI][RL][AP]|[SI][AP][RL])$/),
      /** Target voxel size in mm along model axes. */
      spacing: vec3,
      intensity: z.object({ min: z.number(), max: z.number(), outMin: z.number().default(0), outMax: z.number().default(1), clip: z.boolean().default(true) }),
      /** Crop to the voxels whose raw intensity exceeds `threshold`, plus `margin` voxels; null = no crop. */
      foregroundCrop: z.object({ threshold: z.number(), margin: z.number().int().min(0) }).nullable().default(null),
    }),
    inference: z.object({
      roiSize: intVec3,
      overlap: z.number().min(0).lt(1),
      blending: z.enum(['gaussian', 'constant']).default('gaussian'),
      sigmaScale: z.number().positive().default(0.125),
      /** Logit threshold: a voxel belongs to a class where its (blended) logit exceeds it. */
      threshold: z.number().default(0),
      /** Patch tensors are [1, 1, X, Y, Z] (MONAI's channel-first order, Z fastest in memory). */
      classVectorType: z.enum(['int64', 'int32', 'float32']).default('int64'),
      pointLabelsType: z.enum(['int64', 'int32', 'float32']).default('int64'),
      /** How many classes the class head takes in one call (the batch dimension of class_vector). */
      maxClassesPerRun: z.number().int().positive().default(16),
    }),
    graphs: z.object({
      encoder: graph({ image: z.string() }, { features: z.string() }),
      classHead: graph({ features: z.string(), classVector: z.string() }, { logits: z.string() }),
      pointHead: graph(
        { features: z.string(), pointCoords: z.string(), pointLabels: z.string(), classVector: z.string() },
        { logits: z.string() },
      ),
    }),
  })
  .superRefine((m, ctx) => {
    const known = new Set(Object.keys(m.labels).map(Number));
    const check = (path: (string | number)[], ids: number[]) => {
      for (const id of ids) if (!known.has(id)) ctx.addIssue({ code: 'custom', path, message: `label ${id} is not in "labels"` });
    };
    check(['everything'], m.everything);
    if (m.supportedLabels) check(['supportedLabels'], m.supportedLabels);
    for (const [k, v] of Object.entries(m.subclasses)) check(['subclasses', k], [Number(k), ...v]);
    if (m.preprocessing.intensity.max <= m.preprocessing.intensity.min)
      ctx.addIssue({ code: 'custom', path: ['preprocessing', 'intensity'], message: 'max must be greater than min' });
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;
export type GraphName = keyof ModelManifest['graphs'];

/** Validates a parsed `model.json`; every problem is listed in one ModelBundleError. */
export function parseManifest(json: unknown, source = 'model.json'): ModelManifest {
  const r = ModelManifestSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelBundleError(`${source} is not a valid model manifest: ${problems}`);
  }
  return r.data;
}
