import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { loadConfig } from '../config.ts';
import { HttpError } from '../http/errors.ts';
import { checkImageUrl } from './download.ts';
import { embeddedIPv4, refusedRange, type AllowedNetworks } from './network.ts';

/** address → the range it is refused as (a RegExp on the reason), or null when it may be reached */
const TABLE: [address: string, refused: RegExp | null][] = [
  ['8.8.8.8', null],
  ['127.0.0.1', /^loopback$/],
  ['169.254.169.254', /^linkLocal$/],
  ['10.1.2.3', /^private$/],
  ['::1', /^loopback$/],
  ['::', /^unspecified$/],
  ['fe80::1', /^linkLocal$/],
  ['fd00::1', /^uniqueLocal$/],
  ['2001:4860:4860::8888', null],
  // IPv4-compatible (::/96): text and hex forms
  ['::127.0.0.1', /^loopback \(IPv4 127\.0\.0\.1 inside an IPv4-compatible IPv6 address\)$/],
  ['::7f00:1', /^loopback \(IPv4 127\.0\.0\.1 inside an IPv4-compatible/],
  ['::169.254.169.254', /^linkLocal \(IPv4 169\.254\.169\.254/],
  ['::a9fe:a9fe', /^linkLocal/],
  ['::10.0.0.1', /^private/],
  ['::0.0.0.2', /^unspecified/],
  ['::8.8.8.8', null],
  // IPv4-mapped (::ffff:0:0/96)
  ['::ffff:127.0.0.1', /^loopback \(IPv4 127\.0\.0\.1 inside an IPv4-mapped IPv6 address\)$/],
  ['::ffff:7f00:1', /^loopback/],
  ['0:0:0:0:0:ffff:a9fe:a9fe', /^linkLocal/],
  ['::ffff:192.168.1.1', /^private/],
  ['::ffff:8.8.8.8', null],
  // IPv4-translated (::ffff:0:0:0/96, RFC 6145)
  ['::ffff:0:127.0.0.1', /^loopback \(IPv4 127\.0\.0\.1 inside an IPv4-translated/],
  ['::ffff:0:8.8.8.8', null],
  // 6to4 (2002::/16): bits 16–47
  ['2002:7f00:1::', /^loopback \(IPv4 127\.0\.0\.1 inside a 6to4 address\)$/],
  ['2002:a9fe:a9fe::1', /^linkLocal \(IPv4 169\.254\.169\.254 inside a 6to4/],
  ['2002:c0a8:0101:5::1', /^private \(IPv4 192\.168\.1\.1/],
  ['2002:808:808::1', null],
  // NAT64 (64:ff9b::/96) and local-use NAT64 (64:ff9b:1::/48)
  ['64:ff9b::127.0.0.1', /^loopback \(IPv4 127\.0\.0\.1 inside a NAT64 address\)$/],
  ['64:ff9b::a9fe:a9fe', /^linkLocal/],
  ['64:ff9b::10.0.0.1', /^private/],
  ['64:ff9b::8.8.8.8', null],
  ['64:ff9b:1:a00:0:100::', /^private \(IPv4 10\.0\.0\.1 inside a local-use NAT64/],
  // Teredo stays refused as a range
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /^teredo$/],
  ['not an address', /^unparseable$/],
];

describe('refusedRange', () => {
  for (const [address, refused] of TABLE) {
    it(`${address} → ${refused ?? 'reachable'}`, () => {
      const r = refusedRange(address, []);
      if (refused === null) assert.equal(r, null);
      else assert.match(r ?? 'null', refused);
    });
  }

  it('an allowed IPv4 range also allows the IPv6 forms that carry it', () => {
    const allowed: AllowedNetworks = [ipaddr.parseCIDR('127.0.0.0/8'), ipaddr.parseCIDR('fd00::/8')];
    for (const a of ['127.0.0.1', '::127.0.0.1', '::ffff:127.0.0.1', '2002:7f00:1::', '64:ff9b::7f00:1', 'fd00::1']) assert.equal(refusedRange(a, allowed), null, a);
    assert.match(refusedRange('::169.254.169.254', allowed) ?? '', /^linkLocal/);
  });

  it('embeddedIPv4 finds nothing in plain IPv6 addresses', () => {
    for (const a of ['::1', '::', '2001:4860:4860::8888', 'fe80::1']) assert.equal(embeddedIPv4(ipaddr.IPv6.parse(a)), null, a);
  });
});

describe('checkImageUrl refuses IPv6 literals that carry an internal IPv4 address', () => {
  const { images } = loadConfig({});
  for (const url of ['http://[::127.0.0.1]/x.nii', 'http://[::169.254.169.254]/latest/meta-data.nii', 'http://[::ffff:127.0.0.1]:8000/x.nii', 'http://[2002:a9fe:a9fe::]/x.nii', 'http://[64:ff9b::169.254.169.254]/x.nii']) {
    it(url, () => {
      assert.throws(() => checkImageUrl(url, images), (e: HttpError) => e.status === 403 && e.code === 'address_not_allowed' && /internal networks/.test(e.message));
    });
  }
});
