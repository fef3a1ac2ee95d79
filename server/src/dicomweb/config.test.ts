import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { upstreamUrl } from './upstream.ts';
import { upstreamUrlPattern } from './proxy.ts';

describe('DICOMweb configuration', () => {
  it('defaults: the embedded store with the torso sample, a 2 GiB series cache', () => {
    const d = loadConfig({}).dicomweb;
    assert.deepEqual(d, { url: null, auth: undefined, seriesCacheBytes: 2 * 1024 ** 3, sampleStudy: { kind: 'torso', seed: 7 }, storeBytes: 512 * 1024 ** 2, publicOrigin: null });
  });

  it('reads DICOMWEB_URL (normalised, no sample study), DICOMWEB_AUTH, SAMPLE_STUDY, PUBLIC_URL', () => {
    const d = loadConfig({ DICOMWEB_URL: 'HTTP://PACS.example.org:8042/dicom-web/', DICOMWEB_AUTH: 'Basic dXNlcjpwdw==', SERIES_CACHE_BYTES: '0', PUBLIC_URL: 'https://viewer.example.org/x' }).dicomweb;
    assert.equal(d.url, 'http://pacs.example.org:8042/dicom-web');
    assert.equal(d.auth, 'Basic dXNlcjpwdw==');
    assert.equal(d.sampleStudy, null);
    assert.equal(d.seriesCacheBytes, 0);
    assert.equal(d.publicOrigin, 'https://viewer.example.org');
    assert.deepEqual(loadConfig({ SAMPLE_STUDY: 'head:3' }).dicomweb.sampleStudy, { kind: 'head', seed: 3 });
    assert.equal(loadConfig({ SAMPLE_STUDY: 'false' }).dicomweb.sampleStudy, null);
  });

  it('names every bad DICOMweb variable', () => {
    assert.throws(
      () => loadConfig({ DICOMWEB_URL: 'ftp://pacs/dicom-web', DICOMWEB_AUTH: 'secret', SAMPLE_STUDY: 'brain:1', SERIES_CACHE_BYTES: '-1' }),
      (e: ConfigError) => ['DICOMWEB_URL', 'DICOMWEB_AUTH', 'SAMPLE_STUDY', 'SERIES_CACHE_BYTES'].every((k) => e.problems.some((p) => p.startsWith(k))),
    );
    assert.throws(() => loadConfig({ DICOMWEB_URL: 'http://user:pw@pacs/dicom-web' }), /must not carry credentials; put them in DICOMWEB_AUTH/);
  });
});

describe('upstream paths', () => {
  it('stay under DICOMWEB_URL', () => {
    assert.equal(upstreamUrl('http://pacs:8042/dicom-web', '/studies?limit=1').href, 'http://pacs:8042/dicom-web/studies?limit=1');
    for (const bad of ['/../system', '/studies/%2e%2e/%2E%2E/system', '/studies/..%2fx', 'studies', '/a\\..\\b']) {
      assert.throws(() => upstreamUrl('http://pacs:8042/dicom-web', bad), { status: 400 }, bad);
    }
  });

  it('absolute PACS URLs in DICOM JSON are recognised under any host name, only below the DICOMweb path', () => {
    const p = upstreamUrlPattern('http://127.0.0.1:8042/dicom-web');
    const json = '{"BulkDataURI":"http://orthanc.internal:8042/dicom-web/studies/1/bulk/7fe00010","x":"http://other/dicom-webx","RetrieveURL":"https://a/dicom-web"}';
    assert.equal(json.replace(p, 'http://me/dicomweb'), '{"BulkDataURI":"http://me/dicomweb/studies/1/bulk/7fe00010","x":"http://other/dicom-webx","RetrieveURL":"http://me/dicomweb"}');
    assert.equal('"http://pacs:1/studies/1" "http://other:1/studies/1"'.replace(upstreamUrlPattern('http://pacs:1'), 'X'), '"X/studies/1" "http://other:1/studies/1"');
  });
});
