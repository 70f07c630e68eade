/**
 * IPv4 addresses and CIDR blocks as plain numbers: parse, format, contain, overlap, nth address.
 * Pure and strict (no leading zeros, no shorthand forms), shared by the inventory rules and by
 * anyone who needs address arithmetic (node pod subnets, the cluster DNS address, VIP prefixes).
 */

export interface Cidr {
  /** network address as an unsigned 32-bit number (host bits may be set: see `hostBitsSet`) */
  base: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;

/** Parse a dotted-quad IPv4 address; null when it is not exactly one. */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return null;
    value = value * 256 + Number(part);
  }
  return value >>> 0;
}

export function formatIPv4(value: number): string {
  const v = value >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** Parse `a.b.c.d/n`; null when malformed. Host bits set are allowed here (see `hostBitsSet`). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const base = parseIPv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (base === null || !/^(3[0-2]|[12]?[0-9])$/.test(prefixText)) return null;
  return { base, prefix: Number(prefixText) };
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The network address of a CIDR (host bits cleared). */
export function networkOf(cidr: Cidr): number {
  return (cidr.base & maskOf(cidr.prefix)) >>> 0;
}

export function hostBitsSet(cidr: Cidr): boolean {
  return networkOf(cidr) !== cidr.base >>> 0;
}

/** `a.b.c.d/n` with host bits cleared. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(networkOf(cidr))}/${cidr.prefix}`;
}

/** Number of addresses in the block (2^(32-prefix)). */
export function sizeOf(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  const mask = maskOf(cidr.prefix);
  return ((address & mask) >>> 0) === networkOf(cidr);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = maskOf(prefix);
  return ((networkOf(a) & mask) >>> 0) === ((networkOf(b) & mask) >>> 0);
}

/** The n-th address of a block (0 = network address); null when it is outside the block. */
export function nthAddress(cidr: Cidr, n: number): number | null {
  if (!Number.isInteger(n) || n < 0 || n >= sizeOf(cidr)) return null;
  return (networkOf(cidr) + n) >>> 0;
}

/** The /prefix block that holds an address, e.g. enclosing(10.0.0.7, 24) = 10.0.0.0/24. */
export function enclosing(address: number, prefix: number): Cidr {
  return { base: (address & maskOf(prefix)) >>> 0, prefix };
}

/** Special-purpose addresses no cluster host can have. Returns a reason, or null when usable. */
export function unusableHostAddress(address: number): string | null {
  if (address === 0) return 'the unspecified address 0.0.0.0';
  if (address === 0xffffffff) return 'the broadcast address 255.255.255.255';
  if (address >>> 24 === 0) return 'in 0.0.0.0/8 ("this network")';
  if (address >>> 28 === 0xe) return 'a multicast address (224.0.0.0/4)';
  if (address >>> 28 === 0xf) return 'in the reserved block 240.0.0.0/4';
  return null;
}
