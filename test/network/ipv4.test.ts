import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cidrContains, formatIpv4, isIpv4, nthAddress, parseCidr, parseIpv4, formatCidr } from '../../src/network/ipv4.js';
import { KubiError } from '../../src/errors.js';

describe('ipv4', () => {
  it('parses and formats addresses both ways', () => {
    expect(parseIpv4('10.77.0.11')).toBe(10 * 2 ** 24 + 77 * 2 ** 16 + 11);
    expect(formatIpv4(parseIpv4('255.255.255.255'))).toBe('255.255.255.255');
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => parseIpv4(formatIpv4(n)) === n));
  });

  it('refuses things that are not dotted quads', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.1 ', 'a.b.c.d', '']) {
      expect(isIpv4(bad), bad).toBe(false);
      expect(() => parseIpv4(bad)).toThrow(KubiError);
    }
  });

  it('parses CIDRs and refuses host bits', () => {
    expect(formatCidr(parseCidr('10.42.0.0/16'))).toBe('10.42.0.0/16');
    expect(() => parseCidr('10.42.1.0/16')).toThrow(/host bits set/);
    expect(() => parseCidr('10.42.0.0/33')).toThrow(KubiError);
    expect(() => parseCidr('10.42.0.0')).toThrow(KubiError);
  });

  it('knows containment', () => {
    expect(cidrContains(parseCidr('10.42.0.0/16'), parseCidr('10.42.255.0/24'))).toBe(true);
    expect(cidrContains(parseCidr('10.42.0.0/16'), parseCidr('10.43.0.0/24'))).toBe(false);
    expect(cidrContains(parseCidr('10.42.0.0/24'), parseCidr('10.42.0.0/16'))).toBe(false);
  });

  it('gives the n-th address (cluster DNS is the 10th of the service CIDR)', () => {
    expect(nthAddress('10.43.0.0/16', 10)).toBe('10.43.0.10');
    expect(nthAddress('192.168.0.0/30', 3)).toBe('192.168.0.3');
    expect(() => nthAddress('192.168.0.0/30', 4)).toThrow(KubiError);
  });
});
