/** Process entry: `npm start`. Reads the configuration, serves, shuts down gracefully on SIGINT/SIGTERM. */
import { loadConfigOrExit } from './config.ts';
import { startServer } from './server.ts';

const config = loadConfigOrExit();
const running = await startServer(config);
running.ready.catch(() => process.exit(1));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    running.close().then(() => process.exit(0), () => process.exit(1));
  });
}
