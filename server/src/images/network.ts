import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Server-side request forgery guard: which addresses an image URL may reach. Public unicast addresses pass;
 * loopback, private, link-local (cloud metadata), unique-local, carrier-grade NAT, multicast, reserved and
 * unspecified addresses are refused unless they fall in an explicitly allowed CIDR range. The check runs on
 * the address actually connected to (a `lookup` hook), so DNS rebinding between check and connect is moot.
 */
export type AllowedNetworks = [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** Null when `address` may be reached, else the reason (its range name). */
export function refusedRange(address: string, allowed: AllowedNetworks): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address); // IPv4-mapped IPv6 → IPv4
  } catch {
    return 'unparseable';
  }
  for (const [net, bits] of allowed) if (ip.kind() === net.kind() && ip.match(net, bits)) return null;
  const range = ip.range();
  return range === 'unicast' ? null : range;
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
