/**
 * IPv4 address and CIDR arithmetic (pure). Owns parsing, formatting and the checks the
 * renderers and the pod-subnet allocator need; addresses are handled as unsigned 32-bit numbers.
 */
import { KubiError, EXIT } from '../errors.js';

export interface Ipv4Cidr {
  /** network address as an unsigned 32-bit number (host bits cleared) */
  network: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function invalid(what: string, value: string, expected: string): KubiError {
  return new KubiError('invalid-address', `${what} ${JSON.stringify(value)} is not ${expected}`, {
    exitCode: EXIT.invalidInput,
    hint: `write ${expected}, e.g. ${expected.includes('CIDR') ? '10.42.0.0/16' : '10.0.0.11'}`,
  });
}

export function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => OCTET.test(p));
}

/** Parse a dotted-quad address; throws a KubiError naming `what` when it is not one. */
export function parseIpv4(value: string, what = 'address'): number {
  if (!isIpv4(value)) throw invalid(what, value, 'an IPv4 address');
  return value.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export function prefixSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** Parse "a.b.c.d/p". Host bits must be zero (a CIDR that is not a network is a typo worth reporting). */
export function parseCidr(value: string, what = 'CIDR'): Ipv4Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) throw invalid(what, value, 'an IPv4 CIDR');
  const prefix = Number(m[2]);
  const addr = parseIpv4(m[1]!, what);
  if (addr % prefixSize(prefix) !== 0) {
    throw new KubiError('invalid-address', `${what} ${value} has host bits set`, {
      exitCode: EXIT.invalidInput,
      hint: `use the network address, e.g. ${formatIpv4(addr - (addr % prefixSize(prefix)))}/${prefix}`,
    });
  }
  return { network: addr, prefix };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return (
    inner.prefix >= outer.prefix &&
    inner.network >= outer.network &&
    inner.network + prefixSize(inner.prefix) <= outer.network + prefixSize(outer.prefix)
  );
}

export function cidrContainsAddress(outer: Ipv4Cidr, address: number): boolean {
  return address >= outer.network && address < outer.network + prefixSize(outer.prefix);
}

/** The n-th address of a CIDR (0 = the network address); throws when n is outside it. */
export function nthAddress(cidr: string, n: number): string {
  const c = parseCidr(cidr);
  if (!Number.isInteger(n) || n < 0 || n >= prefixSize(c.prefix)) {
    throw new KubiError('invalid-address', `${cidr} has no address number ${n}`, { exitCode: EXIT.invalidInput });
  }
  return formatIpv4(c.network + n);
}
