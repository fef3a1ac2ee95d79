import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { checkImageUrl } from './download.ts';
import { isWhitelisted, parseWhitelistEntry } from './domainWhitelist.ts';

/** entry → [URLs it must cover, URLs it must not cover] */
const TABLE: [entry: string, kind: 'glob' | 'regex', yes: string[], no: string[]][] = [
  ['*', 'glob', ['http://a/x.nii', 'https://b.example.org:8443/y/z.nrrd', 'http://[::1]:1/'], ['not a url']],
  [
    'localhost',
    'glob',
    ['http://localhost/x.nii', 'https://localhost:8443/a/b.nii.gz', 'http://LOCALHOST:8888/'],
    ['http://localhost.evil.com/x.nii', 'http://evil.com/localhost/x.nii', 'http://localhost@evil.com/x.nii', 'http://127.0.0.1/x.nii'],
  ],
  [
    'http://host:8888',
    'glob',
    ['http://host:8888/', 'http://host:8888/x.nii', 'http://HOST:8888/a/b/c.nii.gz?x=1'],
    ['http://host:88889/x', 'http://host:8888.evil.com/', 'http://host:8889/x', 'http://host/x', 'https://host:8888/x', 'http://host:8888@evil.com/x', 'http://hostx:8888/x', 'http://evil.com/http://host:8888/'],
  ],
  ['http://host', 'glob', ['http://host/x.nii', 'http://host:80/x.nii'], ['http://host:8080/x.nii', 'https://host/x.nii']],
  ['https://host:443/', 'glob', ['https://host/x.nii', 'https://host:443/a'], ['https://host:4430/a', 'http://host:443/a']],
  [
    'https://data.example.org/public',
    'glob',
    ['https://data.example.org/public', 'https://data.example.org/public/ct.nii.gz'],
    ['https://data.example.org/publicity/ct.nii.gz', 'https://data.example.org/ct.nii.gz', 'https://data.example.org/public/../secret/ct.nii.gz', 'https://dataXexample.org/public/x'],
  ],
  ['https://data.example.org/public/', 'glob', ['https://data.example.org/public/ct.nii.gz'], ['https://data.example.org/public', 'https://data.example.org/publicx']],
  ['http://*', 'glob', ['http://a/x', 'http://b.example.org:8888/y', 'http://10.0.0.1:1/'], ['https://a/x']],
  ['https://host:*', 'glob', ['https://host/x', 'https://host:8443/x', 'https://host:1/'], ['http://host:8443/x', 'https://host.evil.com:8443/x', 'https://evil.com/host:1']],
  [
    'https://*.example.org',
    'glob',
    ['https://a.example.org/x', 'https://a.b.example.org/x'],
    ['https://example.org/x', 'https://a.example.org.evil.com/x', 'https://evilexample.org/x', 'https://a.example.org:8443/x', 'https://evil.com/.example.org'],
  ],
  ['*.example.org', 'glob', ['http://a.example.org:8080/x', 'https://b.example.org/y'], ['http://example.org/x', 'http://a.example.org.evil.com/']],
  ['http*://host/*.nii.gz', 'glob', ['http://host/a.nii.gz', 'https://host/d/e/f.nii.gz'], ['ftp://host/a.nii.gz', 'http://host/a.nrrd', 'http://other/a.nii.gz']],
  ['host:8888', 'glob', ['http://host:8888/x', 'https://host:8888/x'], ['http://host/x', 'http://host:8889/x']],
  ['[::1]:8000', 'glob', ['http://[::1]:8000/x', 'http://[0:0::1]:8000/x'], ['http://[::2]:8000/x', 'http://[::1]:8001/x']],
  ['::1', 'glob', ['http://[::1]/x', 'https://[::1]:9/x'], ['http://[::2]/x']],
  ['127.0.0.1', 'glob', ['http://127.0.0.1:8042/x', 'http://127.1/x'], ['http://127.0.0.10/x', 'http://127.0.0.1.evil.com/x']],
  // regular expressions, as before
  ['https://data\\.example\\.org/.*', 'regex', ['https://data.example.org/ct.nii.gz', 'HTTPS://DATA.EXAMPLE.ORG/a'], ['https://data.example.org.evil.com/ct.nii.gz', 'https://dataXexample.org/x']],
  ['https://images.example.org/.*', 'regex', ['https://images.example.org/ct.nii.gz'], ['https://images.example.org.evil.com/ct.nii.gz']],
  ['http://(a|b)\\.lan:8042/dicom/.+', 'regex', ['http://a.lan:8042/dicom/x.nii', 'http://b.lan:8042/dicom/y'], ['http://c.lan:8042/dicom/x', 'http://a.lan:8042/dicom/']],
];

describe('DOMAIN_WHITELIST entries', () => {
  for (const [entry, kind, yes, no] of TABLE) {
    it(`${JSON.stringify(entry)} is a ${kind}`, () => {
      const p = parseWhitelistEntry(entry);
      assert.equal(p.kind, kind);
      assert.equal(p.source, entry);
      for (const u of yes) assert.ok(p.test(u), `${entry} should cover ${u}`);
      for (const u of no) assert.ok(!p.test(u), `${entry} must not cover ${u}`);
    });
  }

  it('refuses entries that are neither a glob nor a regular expression, naming the entry', () => {
    assert.throws(() => parseWhitelistEntry('('), /"\(" is not a regular expression/);
    assert.throws(() => parseWhitelistEntry('http://host:port'), /"http:\/\/host:port" is not a valid URL prefix or glob: port "port"/);
    assert.throws(() => parseWhitelistEntry('http://host:70000'), /port "70000" is not a number from 0 to 65535/);
    assert.throws(() => parseWhitelistEntry('ftp://host'), /scheme ftp is never used/);
    assert.throws(() => parseWhitelistEntry('http://'), /no host/);
  });

  it('an empty list allows every URL; otherwise one entry must cover it', () => {
    const u = new URL('http://host:8888/x.nii');
    assert.ok(isWhitelisted(u, []));
    assert.ok(isWhitelisted(u, [parseWhitelistEntry('other'), parseWhitelistEntry('http://host:8888')]));
    assert.ok(!isWhitelisted(u, [parseWhitelistEntry('other')]));
  });
});

describe('DOMAIN_WHITELIST in the configuration and the URL check', () => {
  it('accepts the NIM launch scripts\' forms at start-up ("*" used to stop the server)', () => {
    const c = loadConfig({ DOMAIN_WHITELIST: '["http://host:8888","localhost","http://*","https://host:*","*"]' });
    assert.deepEqual(
      c.images.domainWhitelist.map((p) => p.kind),
      ['glob', 'glob', 'glob', 'glob', 'glob'],
    );
    assert.throws(() => loadConfig({ DOMAIN_WHITELIST: 'http://host:port' }), /DOMAIN_WHITELIST: "http:\/\/host:port" is not a valid URL prefix/);
  });

  it('checkImageUrl lets a prefix through and refuses what lies beside it with 403', () => {
    const { images } = loadConfig({ DOMAIN_WHITELIST: 'http://8.8.8.8:8888' });
    assert.equal(checkImageUrl('http://8.8.8.8:8888/data/ct.nii.gz', images).pathname, '/data/ct.nii.gz');
    for (const bad of ['http://8.8.8.8:8889/ct.nii.gz', 'https://8.8.8.8:8888/ct.nii.gz', 'http://8.8.4.4:8888/ct.nii.gz']) {
      assert.throws(() => checkImageUrl(bad, images), (e: HttpError) => e.status === 403 && /not in DOMAIN_WHITELIST/.test(e.message), bad);
    }
  });
});
