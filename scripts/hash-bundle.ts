// Writes each graph's SHA-256 and size into a bundle's model.json (what a browser checks its download and its
// Cache Storage copy against): `npm run hash-bundle -- models/bundles/phantom`. Run it after exporting graphs.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest } from '@vista3d/models';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run hash-bundle -- <bundle folder>');
  process.exit(2);
}
const path = join(dir, 'model.json');
const json = JSON.parse(readFileSync(path, 'utf8'));
const manifest = parseManifest(json, path);
for (const [name, g] of Object.entries(manifest.graphs)) {
  const bytes = readFileSync(join(dir, g.file));
  json.graphs[name].sha256 = createHash('sha256').update(bytes).digest('hex');
  json.graphs[name].bytes = bytes.length;
  console.error(`${name}: ${g.file} ${bytes.length} bytes sha256 ${json.graphs[name].sha256}`);
}
writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`);
