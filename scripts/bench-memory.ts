/** Child of the bench: reads the head CT (and segments it with the Conv3d bench model), prints max RSS in KiB. */
import { createBackend } from '../models/src/backend/onnxNode.ts';
import { Vista3dPipeline } from '../models/src/pipeline/segment.ts';
import { convBundle } from '../models/test/support/convBundle.ts';
import { loadHeadCT } from '../models/test/support/realData.ts';

const ct = loadHeadCT();
if (process.argv[2] === 'segment') {
  const p = await Vista3dPipeline.create(convBundle({ roi: 64, channels: 8, layers: 3 }), createBackend({ device: 'cpu' }));
  await p.segment(ct, { classes: [1, 3, 6] });
  await p.dispose();
}
console.log(process.resourceUsage().maxRSS);
