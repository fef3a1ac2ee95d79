/** Process entry: `npm start`. Reads the configuration, serves, shuts down gracefully on SIGINT/SIGTERM. */
import { ConfigError, loadConfig } from './config.ts';
import { startServer } from './server.ts';

let config;
try {
  config = loadConfig();
} catch (e) {
  process.stderr.write(`${e instanceof ConfigError ? e.message : String(e)}\n`);
  process.exit(2);
}
const running = await startServer(config);
running.ready.catch(() => process.exit(1));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    running.close().then(() => process.exit(0), () => process.exit(1));
  });
}
