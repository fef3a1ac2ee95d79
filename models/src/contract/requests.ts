import { z } from 'zod';

/**
 * The wire format of the VISTA3D NIM (snake_case where the NIM has it) and of `/v1/vista3d/info`, as the server
 * validates it (and describes it in /v1/openapi.json) and the viewer sends and reads it: one place for both sides.
 * Unknown fields are ignored, as the NIM (FastAPI) does.
 * Our backward-compatible extension: `prompts.point_labels`, per label, 1 = positive, 0 = negative.
 */
const labelRef = z.union([z.string().min(1).max(200), z.number().int()]).describe('a label name (case-insensitive) or a VISTA3D label index');
const voxel = z.array(z.number().int()).length(3).describe('[x, y, z] voxel indices of the original image');

export const PromptsSchema = z
  .object({
    classes: z.array(labelRef).max(300).optional().describe('labels to segment; subclass groups (kidney, lung, bone) expand to their members'),
    points: z.record(z.string().min(1).max(200), z.array(voxel).min(1).max(100)).optional().describe('one label → its clicks; one object per request'),
    point_labels: z
      .record(z.string().min(1).max(200), z.array(z.union([z.literal(0), z.literal(1)])))
      .optional()
      .describe('extension: for each label of `points`, one entry per point: 1 positive (default), 0 negative'),
  })
  .describe('no prompts = the model\'s "everything" set');

export const InferenceRequestSchema = z.object({
  image: z.string().min(1).max(4096).describe('http(s) URL of a NIfTI/NRRD image, or a file/folder (DICOM slices) path or file:// URL under IMAGE_ROOTS'),
  prompts: PromptsSchema.optional(),
  local_working_dir: z.string().min(1).max(4096).optional().describe('a folder under OUTPUT_ROOTS where the result file is also written (atomically)'),
});

export type InferenceRequest = z.infer<typeof InferenceRequestSchema>;

/** `POST /v1/vista3d/prepare`: the image a viewer is about to prompt on, as a job would name it. */
export const PrepareRequestSchema = z.object({ image: InferenceRequestSchema.shape.image });

export const ErrorSchema = z.object({ detail: z.string().describe('what is wrong, naming the offending value') });

export const HealthSchema = z.object({ status: z.enum(['live', 'ready', 'not ready', 'shutting down']) });

export const InfoSchema = z.object({
  version: z.string(),
  model: z.object({ name: z.string(), version: z.string(), description: z.string() }),
  labels: z.record(z.string(), z.number().int()).describe('segmentable label name → index'),
  label_dictionary: z.record(z.string(), z.string()).describe('every label index the model family knows → name'),
  everything: z.array(z.number().int()),
  subclasses: z.record(z.string(), z.array(z.number().int())),
  no_point_prompts: z.array(z.number().int()),
  supported_formats: z.array(z.string()),
  device: z.string(),
  not_processed_value: z.number().int().describe('label of voxels a point prompt did not process (255 for VISTA3D)'),
  zero_shot_from: z.number().int().describe('first label index of a new structure (133 for VISTA3D): clicks only'),
});

export type InfoView = z.infer<typeof InfoSchema>;
