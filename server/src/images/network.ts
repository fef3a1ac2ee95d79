import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Server-side request forgery guard: which addresses an image URL may reach. Public unicast addresses pass;
 * loopback, private, link-local (cloud metadata), unique-local, carrier-grade NAT, multicast, reserved and
 * unspecified addresses are refused unless they fall in an explicitly allowed CIDR range. IPv6 forms that carry an
 * IPv4 address (IPv4-compatible, -mapped, -translated, NAT64, 6to4) are judged by that IPv4 address. The check runs on
 * the address actually connected to (a `lookup` hook), so DNS rebinding between check and connect is moot.
 */
export type AllowedNetworks = [ipaddr.IPv4 | ipaddr.IPv6, number][];

/**
 * Null when `address` may be reached, else the reason (its range name). An IPv6 address that carries an IPv4
 * address (see embeddedIPv4) is judged by that IPv4 address: `::7f00:1` is as loopback as 127.0.0.1.
 */
export function refusedRange(address: string, allowed: AllowedNetworks): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // IPv6 text through the URL parser first: ipaddr.js reads "::127.0.0.1" as "::ffff:127.0.0.1"
    ip = ipaddr.parse(address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address);
  } catch {
    return 'unparseable';
  }
  if (isAllowed(ip, allowed)) return null;
  if (ip.kind() === 'ipv6') {
    const inner = embeddedIPv4(ip as ipaddr.IPv6);
    if (inner) {
      if (isAllowed(inner.ipv4, allowed)) return null;
      const range = inner.ipv4.range();
      return range === 'unicast' ? null : `${range} (IPv4 ${inner.ipv4.toString()} inside ${inner.form})`;
    }
  }
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

function isAllowed(ip: ipaddr.IPv4 | ipaddr.IPv6, allowed: AllowedNetworks): boolean {
  return allowed.some(([net, bits]) => ip.kind() === net.kind() && ip.match(net, bits));
}

/**
 * The IPv4 address an IPv6 address routes to or stands for, with the name of its form; null when none:
 * IPv4-compatible `::a.b.c.d` (::/96 but :: and ::1), IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
 * `::ffff:0:a.b.c.d` (RFC 6145), NAT64 `64:ff9b::a.b.c.d` (RFC 6052) and its local-use `64:ff9b:1::/48`
 * (RFC 8215, the /48 layout of RFC 6052), and 6to4 `2002:aabb:ccdd::/16`. Teredo (2001::/32) is not unwrapped:
 * its range stays refused.
 */
export function embeddedIPv4(ip: ipaddr.IPv6): { ipv4: ipaddr.IPv4; form: string } | null {
  const b = ip.toByteArray();
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (...bytes: number[]) => new ipaddr.IPv4(bytes);
  if (zero(0, 12) && !(zero(12, 15) && b[15] <= 1)) return { ipv4: v4(b[12], b[13], b[14], b[15]), form: 'an IPv4-compatible IPv6 address' };
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return { ipv4: v4(b[12], b[13], b[14], b[15]), form: 'an IPv4-mapped IPv6 address' };
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return { ipv4: v4(b[12], b[13], b[14], b[15]), form: 'an IPv4-translated IPv6 address' };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (zero(4, 12)) return { ipv4: v4(b[12], b[13], b[14], b[15]), form: 'a NAT64 address' };
    if (b[4] === 0x00 && b[5] === 0x01) return { ipv4: v4(b[6], b[7], b[9], b[10]), form: 'a local-use NAT64 address' };
  }
  if (b[0] === 0x20 && b[1] === 0x02) return { ipv4: v4(b[2], b[3], b[4], b[5]), form: 'a 6to4 address' };
  return null;
}

export class RefusedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host} resolves to ${address}, a ${range} address; image URLs may not point into internal networks (allow a range with IMAGE_URI_ALLOWED_NETWORKS)`);
    this.name = 'RefusedAddressError';
  }
}

/** A `lookup` for http(s).request that only ever hands out permitted addresses. */
export function guardedLookup(allowed: AllowedNetworks): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const ok = list.filter((a) => refusedRange(a.address, allowed) === null);
      if (!ok.length) {
        const a = list[0];
        return callback(new RefusedAddressError(hostname, a?.address ?? '?', a ? refusedRange(a.address, allowed)! : 'unknown'), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  };
}
