import type { ModelManifest } from '../pipeline/manifest.ts';
import { LabelSet } from '../pipeline/prompts.ts';
import type { InfoView } from './requests.ts';

/**
 * `/v1/vista3d/info` of a model, from its manifest: what the server answers, and what the viewer shows for a model
 * it runs itself (in the browser, the server perhaps unreachable). `device` is where it runs.
 */
export function describeModel(manifest: ModelManifest, opts: { version: string; device: string; supportedFormats: readonly string[] }): InfoView {
  const labels = new LabelSet(manifest);
  return {
    version: opts.version,
    model: { name: manifest.name, version: manifest.version, description: manifest.description },
    labels: Object.fromEntries(labels.supportedIds.map((id) => [labels.names.get(id) ?? String(id), id])),
    label_dictionary: manifest.labels,
    everything: manifest.everything.filter((id) => labels.isSupported(id)),
    subclasses: manifest.subclasses,
    no_point_prompts: manifest.noPointPrompts,
    supported_formats: [...opts.supportedFormats],
    device: opts.device,
    not_processed_value: manifest.notProcessedValue,
    zero_shot_from: manifest.zeroShotFrom,
  };
}
