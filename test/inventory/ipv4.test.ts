/** IPv4 and CIDR arithmetic: examples and properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  cidrsOverlap,
  enclosing,
  formatCidr,
  formatIPv4,
  hostBitsSet,
  nthAddress,
  parseCidr,
  parseIPv4,
  sizeOf,
  unusableHostAddress,
} from '../../src/inventory/ipv4.js';

describe('ipv4', () => {
  it('parses strict dotted quads only', () => {
    expect(parseIPv4('192.168.1.10')).toBe(0xc0a8010a);
    expect(parseIPv4('0.0.0.0')).toBe(0);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '', '1..3.4', '１.2.3.4']) {
      expect(parseIPv4(bad), bad).toBeNull();
    }
  });

  it('round-trips every address', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIPv4(formatIPv4(n)) === n));
  });

  it('parses CIDRs and finds host bits', () => {
    expect(parseCidr('10.42.0.0/16')).toEqual({ base: 0x0a2a0000, prefix: 16 });
    expect(parseCidr('10.42.0.0/33')).toBeNull();
    expect(parseCidr('10.42.0.0/016')).toBeNull();
    expect(parseCidr('10.42.0.0')).toBeNull();
    expect(hostBitsSet(parseCidr('10.42.1.0/16')!)).toBe(true);
    expect(formatCidr(parseCidr('10.42.1.7/16')!)).toBe('10.42.0.0/16');
    expect(sizeOf(parseCidr('0.0.0.0/0')!)).toBe(2 ** 32);
  });

  it('contains, overlaps, nth, enclosing', () => {
    const c = parseCidr('10.43.0.0/16')!;
    expect(cidrContains(c, parseIPv4('10.43.255.255')!)).toBe(true);
    expect(cidrContains(c, parseIPv4('10.44.0.0')!)).toBe(false);
    expect(formatIPv4(nthAddress(c, 10)!)).toBe('10.43.0.10');
    expect(nthAddress(parseCidr('10.0.0.0/30')!, 4)).toBeNull();
    expect(formatCidr(enclosing(parseIPv4('192.168.1.77')!, 24))).toBe('192.168.1.0/24');
    expect(cidrsOverlap(parseCidr('10.0.0.0/8')!, parseCidr('10.43.0.0/16')!)).toBe(true);
    expect(cidrsOverlap(parseCidr('10.42.0.0/16')!, parseCidr('10.43.0.0/16')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, 0xffffffff)).toBe(true);
  });

  it('overlap is symmetric and agrees with containment of network addresses', () => {
    const cidr = fc.record({ base: fc.integer({ min: 0, max: 0xffffffff }), prefix: fc.integer({ min: 0, max: 32 }) });
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        const o = cidrsOverlap(a, b);
        expect(cidrsOverlap(b, a)).toBe(o);
        const na = parseCidr(formatCidr(a))!;
        const nb = parseCidr(formatCidr(b))!;
        expect(o).toBe(cidrContains(na, nb.base) || cidrContains(nb, na.base));
      }),
    );
  });

  it('names addresses no host can have', () => {
    expect(unusableHostAddress(parseIPv4('192.168.1.1')!)).toBeNull();
    expect(unusableHostAddress(parseIPv4('127.0.0.1')!)).toBeNull();
    expect(unusableHostAddress(parseIPv4('0.1.2.3')!)).toContain('0.0.0.0/8');
    expect(unusableHostAddress(parseIPv4('224.0.0.5')!)).toContain('multicast');
    expect(unusableHostAddress(parseIPv4('240.0.0.1')!)).toContain('reserved');
  });
});
