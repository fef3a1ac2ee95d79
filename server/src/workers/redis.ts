import type { Config } from '../config.ts';
import type { Engine, LocalEngine } from '../inference/engine.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

export const RedisEngine = {
  async start(_config: Config, _log: Logger, _metrics: Metrics, _url: string): Promise<Engine> {
    throw new Error('not yet');
  },
};
export async function runRedisWorker(_config: Config, _engine: LocalEngine, _name: string, _log: Logger): Promise<void> {
  throw new Error('not yet');
}
