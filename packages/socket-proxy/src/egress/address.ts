/**
 * IP addresses for the egress proxy: canonical forms (so a listed literal matches however it is
 * spelt) and the non-public ranges a resolved name must not land in (the host, the cloud
 * metadata service, other containers).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes for IPv4, 16 for IPv6; undefined for anything else (including zone ids). */
export function addressBytes(address: string): number[] | undefined {
  if (isIPv4(address)) return address.split('.').map(Number);
  if (!isIPv6(address) || address.includes('%')) return undefined;
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1].split('.').map(Number));
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [head, rest] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = groups(head);
  const right = groups(rest);
  const words = rest === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = words.flatMap((word) => [word >> 8, word & 0xff]);
  if (tail.length > 0) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** One spelling per address: dotted decimal, or RFC 5952 compressed lower-case IPv6. */
export function canonicalAddress(address: string): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  if (bytes.length === 4) return bytes.join('.');
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  // The longest run of two or more zero words becomes "::" (the first, on a tie).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

interface Range {
  name: string;
  prefix: number[];
  bits: number;
}

const v4 = (name: string, cidr: string): Range => {
  const [address, bits] = cidr.split('/');
  return { name: `${name} ${cidr}`, prefix: address.split('.').map(Number), bits: Number(bits) };
};
const v6 = (name: string, cidr: string): Range => {
  const [address, bits] = cidr.split('/');
  return { name: `${name} ${cidr}`, prefix: addressBytes(address) as number[], bits: Number(bits) };
};

/** Not the public internet: refused unless the name is listed in EGRESS_ALLOW_PRIVATE. */
const NON_PUBLIC_V4: readonly Range[] = [
  v4('"this network"', '0.0.0.0/8'),
  v4('private', '10.0.0.0/8'),
  v4('shared address space (CGNAT)', '100.64.0.0/10'),
  v4('loopback', '127.0.0.0/8'),
  v4('link-local (cloud metadata)', '169.254.0.0/16'),
  v4('private', '172.16.0.0/12'),
  v4('IETF protocol assignments', '192.0.0.0/24'),
  v4('documentation', '192.0.2.0/24'),
  v4('private', '192.168.0.0/16'),
  v4('benchmarking', '198.18.0.0/15'),
  v4('documentation', '198.51.100.0/24'),
  v4('documentation', '203.0.113.0/24'),
  v4('multicast', '224.0.0.0/4'),
  v4('reserved', '240.0.0.0/4'),
];
const NON_PUBLIC_V6: readonly Range[] = [
  v6('unspecified', '::/128'),
  v6('loopback', '::1/128'),
  v6('discard-only', '100::/64'),
  v6('local-use NAT64', '64:ff9b:1::/48'),
  v6('documentation', '2001:db8::/32'),
  v6('unique local', 'fc00::/7'),
  v6('link-local', 'fe80::/10'),
  v6('site-local', 'fec0::/10'),
  v6('multicast', 'ff00::/8'),
];
/** IPv6 forms that carry an IPv4 address, which is judged instead: [prefix, offset of the IPv4]. */
const EMBEDDED_V4: readonly [Range, number][] = [
  [v6('IPv4-mapped', '::ffff:0:0/96'), 12],
  [v6('IPv4-compatible', '::/96'), 12],
  [v6('NAT64', '64:ff9b::/96'), 12],
  [v6('6to4', '2002::/16'), 2],
];

function inRange(bytes: number[], range: Range): boolean {
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((bytes[bit / 8] & mask) !== (range.prefix[bit / 8] & mask)) return false;
  }
  return true;
}

/** The non-public range an address falls in (e.g. "loopback 127.0.0.0/8"), or undefined if public. */
export function nonPublicRange(address: string): string | undefined {
  const bytes = addressBytes(address.replace(/%.*$/, ''));
  if (!bytes) return 'not an IP address';
  if (bytes.length === 4) return NON_PUBLIC_V4.find((range) => inRange(bytes, range))?.name;
  const exact = NON_PUBLIC_V6.find((range) => range.bits === 128 && inRange(bytes, range));
  if (exact) return exact.name;
  for (const [range, offset] of EMBEDDED_V4) {
    if (!inRange(bytes, range)) continue;
    const inner = nonPublicRange(bytes.slice(offset, offset + 4).join('.'));
    return inner ? `${inner} (${range.name})` : undefined;
  }
  return NON_PUBLIC_V6.find((range) => inRange(bytes, range))?.name;
}
