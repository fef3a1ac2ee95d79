import { ModelBundleError } from '../errors.ts';
import { parseManifest, type GraphName, type ModelManifest } from './manifest.ts';

/** A model bundle in memory: its validated manifest and the bytes of its three ONNX graphs. */
export interface ModelBundle {
  manifest: ModelManifest;
  graphs: Record<GraphName, Uint8Array>;
}

/**
 * Loads a bundle through `readFile(name)`, which returns the bytes of a file of the bundle folder
 * (fs in Node, fetch in the browser). File names come from the validated manifest only.
 */
export async function loadBundle(readFile: (name: string) => Promise<Uint8Array>, source = 'model bundle'): Promise<ModelBundle> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readFile('model.json')));
  } catch (e) {
    throw new ModelBundleError(`${source}: cannot read model.json: ${(e as Error).message}`, { cause: e });
  }
  const manifest = parseManifest(json, `${source}/model.json`);
  const names = Object.keys(manifest.graphs) as GraphName[];
  const bytes = await Promise.all(
    names.map(async (g) => {
      try {
        return await readFile(manifest.graphs[g].file);
      } catch (e) {
        throw new ModelBundleError(`${source}: cannot read graph ${g} (${manifest.graphs[g].file}): ${(e as Error).message}`, { cause: e });
      }
    }),
  );
  return { manifest, graphs: Object.fromEntries(names.map((g, i) => [g, bytes[i]])) as Record<GraphName, Uint8Array> };
}
