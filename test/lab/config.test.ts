import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addressAt,
  defaultCacheDir,
  hostVethName,
  initialOffsets,
  nextFreeOffset,
  parseSubnet,
  resolveConfig,
  VIP_OFFSET,
} from '../../src/lab/config.js';
import { UsageError } from '../../src/errors.js';

describe('lab subnet plan', () => {
  it('gives the default /24 its bridge, host, VIP and node addresses', () => {
    const s = parseSubnet('10.77.0.0/24');
    expect(s).toMatchObject({ cidr: '10.77.0.0/24', bridgeAddress: '10.77.0.1', hostAddress: '10.77.0.254', vip: '10.77.0.100', netmask: '255.255.255.0' });
    expect(initialOffsets(3).map((o) => addressAt(s, o))).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.13']);
  });

  it('handles wider subnets', () => {
    const s = parseSubnet('172.20.0.0/16');
    expect(s.hostAddress).toBe('172.20.255.254');
    expect(s.netmask).toBe('255.255.0.0');
  });

  it.each([
    ['10.77.0.5/24', /host bits/],
    ['8.8.8.0/24', /not a private range/],
    ['10.77.0.0/25', /between \/16 and \/24/],
    ['10.77.0.0', /must look like/],
    ['10.300.0.0/24', /not an IPv4 address/],
  ])('refuses %s', (cidr, msg) => {
    expect(() => parseSubnet(cidr)).toThrow(msg);
    expect(() => parseSubnet(cidr)).toThrow(UsageError);
  });

  it('never hands out the VIP, the bridge or the host address to a node', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), (n) => {
        const s = parseSubnet('10.77.0.0/24');
        const addrs = initialOffsets(n).map((o) => addressAt(s, o));
        expect(new Set(addrs).size).toBe(n);
        for (const a of addrs) expect([s.vip, s.bridgeAddress, s.hostAddress]).not.toContain(a);
      }),
    );
  });

  it('picks a new address above every used one, skipping the VIP', () => {
    const s = parseSubnet('10.77.0.0/24');
    expect(nextFreeOffset(s, [11, 12, 13])).toBe(14);
    expect(nextFreeOffset(s, [11, VIP_OFFSET - 1])).toBe(VIP_OFFSET + 1);
    expect(() => nextFreeOffset(s, [s.maxOffset])).toThrow(/no free node address/);
  });
});

describe('resolveConfig', () => {
  it('applies defaults', () => {
    const c = resolveConfig({}, { HOME: '/home/x' });
    expect(c).toMatchObject({ namespace: 'kubilab', backend: 'container', nodes: 3, stateDir: '/var/lib/kubi-provision/lab/kubilab', k3sBinary: null });
    expect(c.inventoryPath.endsWith('inventories/lab.yaml')).toBe(true);
  });

  it('takes the k3s binary from KUBI_K3S_BINARY', () => {
    expect(resolveConfig({}, { KUBI_K3S_BINARY: '/opt/k3s' }).k3sBinary).toBe('/opt/k3s');
    expect(resolveConfig({ k3sBinary: '/x/k3s' }, { KUBI_K3S_BINARY: '/opt/k3s' }).k3sBinary).toBe('/x/k3s');
  });

  it('refuses bad names, counts and backends', () => {
    expect(() => resolveConfig({ namespace: 'Bad Name' })).toThrow(/not valid/);
    expect(() => resolveConfig({ nodes: 0 })).toThrow(/--nodes/);
    expect(() => resolveConfig({ nodes: 2.5 })).toThrow(/--nodes/);
    expect(() => resolveConfig({ backend: 'docker' as never })).toThrow(/unknown lab backend/);
  });

  it('keeps interface names within the kernel limit of 15 characters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), (name) => {
        resolveConfig({ namespace: name });
        expect(hostVethName(name).length).toBeLessThanOrEqual(15);
      }),
    );
  });

  it('puts the cache under XDG_CACHE_HOME when set', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/kubi-provision/lab');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '' }).endsWith('.cache/kubi-provision/lab')).toBe(true);
  });
});
