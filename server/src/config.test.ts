import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_MODEL_DIR, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('defaults: port 8000, loopback, closed CORS, no local paths, NIM extensions', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.modelDir, DEFAULT_MODEL_DIR);
    assert.deepEqual(c.corsOrigins, []);
    assert.deepEqual(c.imageRoots, []);
    assert.deepEqual(c.images.supportedExtensions, ['.nii', '.nii.gz', '.nrrd', '.dcm']);
    assert.equal(c.images.httpsOnly, false);
    assert.equal(c.images.allowRedirects, true);
    assert.equal(c.apiKey, undefined);
  });

  it('reads NIM variable names, JSON and comma lists', () => {
    const c = loadConfig({
      NIM_HTTP_API_PORT: '9001',
      DOMAIN_WHITELIST: '["https://data\\\\.example\\\\.org/.*"]',
      SUPPORTED_IMAGE_EXT: '.nii.gz, .nrrd',
      IMAGE_URI_HTTPS_ONLY: 'true',
      IMAGE_URI_ALLOW_REDIRECTS: 'false',
      IMAGE_URI_ALLOWED_NETWORKS: '10.0.0.0/8,fd00::/8',
    });
    assert.equal(c.port, 9001);
    assert.ok(c.images.domainWhitelist[0].test('https://data.example.org/ct.nii.gz'));
    assert.ok(!c.images.domainWhitelist[0].test('https://data.example.org.evil.com/ct.nii.gz'));
    assert.deepEqual(c.images.supportedExtensions, ['.nii.gz', '.nrrd']);
    assert.equal(c.images.httpsOnly, true);
    assert.equal(c.images.allowRedirects, false);
    assert.equal(c.images.allowedNetworks.length, 2);
  });

  it('workers and Redis: one in-process worker by default; device ids as a list; 0 workers only with REDIS_URL; REDIS_URL must be redis://', () => {
    const d = loadConfig({});
    assert.equal(d.crossOriginIsolation, true, 'the viewer is cross-origin isolated by default (wasm threads)');
    assert.equal(loadConfig({ CROSS_ORIGIN_ISOLATION: 'false' }).crossOriginIsolation, false);
    assert.deepEqual([d.workers, d.workerDeviceIds, d.redisUrl, d.queuePolicy, d.workerTimeoutMs], [1, [], null, 'priority', 10_000]);
    const c = loadConfig({ NIM_HTTP_MAX_WORKERS: '4', WORKER_DEVICE_IDS: '0,1', QUEUE_POLICY: 'fifo' });
    assert.deepEqual([c.workers, c.workerDeviceIds, c.queuePolicy], [4, ['0', '1'], 'fifo']);
    assert.equal(loadConfig({ NIM_HTTP_MAX_WORKERS: '0', REDIS_URL: 'redis://10.0.0.5:6379/2' }).redisUrl, 'redis://10.0.0.5:6379/2');
    assert.throws(() => loadConfig({ NIM_HTTP_MAX_WORKERS: '0' }), (e: ConfigError) => /NIM_HTTP_MAX_WORKERS: 0 .* needs REDIS_URL/.test(e.message));
    assert.throws(() => loadConfig({ REDIS_URL: 'http://redis:6379' }), (e: ConfigError) => /REDIS_URL=.*a redis:\/\/ or rediss:\/\/ URL/.test(e.message));
    assert.throws(() => loadConfig({ QUEUE_POLICY: 'random' }), (e: ConfigError) => /QUEUE_POLICY/.test(e.message));
  });

  it('lists every bad value, naming each variable', () => {
    assert.throws(
      () => loadConfig({ NIM_HTTP_API_PORT: '99999', DEVICE: 'tpu', API_KEY: 'short', IMAGE_URI_HTTPS_ONLY: 'maybe', DOMAIN_WHITELIST: '["("]', CORS_ORIGINS: '[1]' }),
      (e: ConfigError) => {
        const m = e.message;
        return (
          e instanceof ConfigError &&
          /NIM_HTTP_API_PORT="99999"/.test(m) &&
          /DEVICE="tpu"/.test(m) &&
          /API_KEY=.*at least 16/.test(m) &&
          /IMAGE_URI_HTTPS_ONLY="maybe"/.test(m) &&
          /CORS_ORIGINS=.*JSON array of strings/.test(m)
        );
      },
    );
    assert.throws(() => loadConfig({ DOMAIN_WHITELIST: '["("]' }), /DOMAIN_WHITELIST: "\(" is not a regular expression/);
    assert.throws(() => loadConfig({ IMAGE_URI_ALLOWED_NETWORKS: '10.0.0.0' }), /"10\.0\.0\.0" is not a CIDR range/);
    assert.throws(() => loadConfig({ SUPPORTED_IMAGE_EXT: 'nii' }), /"nii" must start with a dot/);
  });
});
