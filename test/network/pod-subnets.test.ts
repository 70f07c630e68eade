import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allocatePodSubnets } from '../../src/network/pod-subnets.js';
import { cidrContains, parseCidr } from '../../src/network/ipv4.js';
import { KubiError } from '../../src/errors.js';

const names = ['node1', 'node2', 'node3', 'node4', 'node5'];

describe('allocatePodSubnets', () => {
  it('without previous assignments, gives host i of the list block i', () => {
    expect(allocatePodSubnets(names, '10.42.0.0/16', 24)).toEqual({
      node1: '10.42.0.0/24',
      node2: '10.42.1.0/24',
      node3: '10.42.2.0/24',
      node4: '10.42.3.0/24',
      node5: '10.42.4.0/24',
    });
    expect(allocatePodSubnets(['a', 'b'], '10.244.0.0/22', 26)).toEqual({ a: '10.244.0.0/26', b: '10.244.0.64/26' });
  });

  it('keeps previous subnets when a host is removed, and a new host takes the lowest free block', () => {
    const first = allocatePodSubnets(names, '10.42.0.0/16', 24);
    const withoutNode2 = allocatePodSubnets(['node1', 'node3', 'node4', 'node5'], '10.42.0.0/16', 24, first);
    expect(withoutNode2).toEqual({ node1: '10.42.0.0/24', node3: '10.42.2.0/24', node4: '10.42.3.0/24', node5: '10.42.4.0/24' });
    const plusNode6 = allocatePodSubnets(['node1', 'node3', 'node4', 'node5', 'node6'], '10.42.0.0/16', 24, withoutNode2);
    expect(plusNode6.node6).toBe('10.42.1.0/24');
    expect(Object.keys(plusNode6)).toEqual(['node1', 'node3', 'node4', 'node5', 'node6']);
  });

  it('keeps previous subnets even when the inventory order changes', () => {
    const first = allocatePodSubnets(names, '10.42.0.0/16', 24);
    const reordered = allocatePodSubnets([...names].reverse(), '10.42.0.0/16', 24, first);
    for (const n of names) expect(reordered[n]).toBe(first[n]);
  });

  it('reassigns previous entries that no longer fit (other size, outside the pool, garbage, duplicates)', () => {
    const out = allocatePodSubnets(['a', 'b', 'c', 'd'], '10.42.0.0/16', 24, {
      a: '10.42.7.0/24',
      b: '10.42.7.0/24', // same block as a: a keeps it (earlier in the list)
      c: '10.50.0.0/24', // outside the pool
      d: 'nonsense',
    });
    expect(out).toEqual({ a: '10.42.7.0/24', b: '10.42.0.0/24', c: '10.42.1.0/24', d: '10.42.2.0/24' });
    expect(allocatePodSubnets(['a'], '10.42.0.0/16', 24, { a: '10.42.0.0/25' })).toEqual({ a: '10.42.0.0/24' });
  });

  it('fails clearly when the pod CIDR is exhausted', () => {
    expect(allocatePodSubnets(['a', 'b', 'c', 'd'], '10.42.0.0/22', 24)).toHaveProperty('d', '10.42.3.0/24');
    const err = (() => {
      try {
        allocatePodSubnets(['a', 'b', 'c', 'd', 'e'], '10.42.0.0/22', 24);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(KubiError);
    expect((err as KubiError).code).toBe('pod-cidr-exhausted');
    expect((err as KubiError).exitCode).toBe(2);
    expect((err as KubiError).message).toMatch(/room for 4 node subnets of \/24, 5 nodes/);
  });

  it('refuses a mask larger than the pool and duplicate host names', () => {
    expect(() => allocatePodSubnets(['a'], '10.42.0.0/16', 15)).toThrow(/does not fit/);
    expect(() => allocatePodSubnets(['a', 'a'], '10.42.0.0/16', 24)).toThrow(/appears twice/);
  });

  it('property: subnets are disjoint, inside the pool, of the right size, and stable across adds and removes', () => {
    const hostSet = fc.uniqueArray(fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `h${i}`)), { maxLength: 30 });
    fc.assert(
      fc.property(hostSet, hostSet, fc.constantFrom(22, 23, 24, 25, 26), (before, after, mask) => {
        const pool = parseCidr('10.42.0.0/16');
        const prev = allocatePodSubnets(before, '10.42.0.0/16', mask);
        const next = allocatePodSubnets(after, '10.42.0.0/16', mask, prev);
        expect(Object.keys(next)).toEqual(after);
        const seen = new Set<string>();
        for (const h of after) {
          const c = parseCidr(next[h]!);
          expect(c.prefix).toBe(mask);
          expect(cidrContains(pool, c)).toBe(true);
          expect(seen.has(next[h]!)).toBe(false);
          seen.add(next[h]!);
          if (before.includes(h)) expect(next[h]).toBe(prev[h]);
        }
        // deterministic: the same inputs give the same output
        expect(allocatePodSubnets(after, '10.42.0.0/16', mask, prev)).toEqual(next);
      }),
      { numRuns: 200 },
    );
  });
});
