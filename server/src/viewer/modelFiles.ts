import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import express, { type Router } from 'express';
import { parseManifest } from '@vista3d/models';

/**
 * The server's model bundle for in-browser inference (under MODEL_FILES_PATH, behind the API's authentication):
 * `model.json` and exactly the graph files it names, nothing else of the folder. model.json is not cached by HTTP
 * (the browser checks it at each load); the graphs are, and the browser keeps them in its Cache Storage, checked
 * against the SHA-256 in model.json.
 */
export function modelFilesRouter(modelDir: string): Router {
  const r = express.Router();
  r.get('/:file', async (req, res, next) => {
    try {
      const file = String(req.params.file);
      const manifestText = await readFile(join(modelDir, 'model.json'), 'utf8');
      if (file === 'model.json') return void res.set('Cache-Control', 'no-cache').type('application/json').send(manifestText);
      const manifest = parseManifest(JSON.parse(manifestText), 'model.json');
      if (!Object.values(manifest.graphs).some((g) => g.file === file)) return next();
      res.sendFile(file, { root: modelDir, headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'private, max-age=3600' } });
    } catch (e) {
      next(e);
    }
  });
  return r;
}
