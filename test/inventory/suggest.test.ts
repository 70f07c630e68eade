/** did-you-mean: edit distance and the closeness limit. */
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/inventory/suggest.js';

describe('suggest', () => {
  it('edit distance counts insertions, deletions, substitutions and transpositions', () => {
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('adress', 'address')).toBe(1);
    expect(editDistance('etdc', 'etcd')).toBe(1);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('suggests close keys, ignores far ones, matches case differences', () => {
    const keys = ['podCidr', 'serviceCidr', 'clusterDns', 'nodeCidrMaskSize', 'cni'];
    expect(closest('podCIDR', keys)).toBe('podCidr');
    expect(closest('servicecidr', keys)).toBe('serviceCidr');
    expect(closest('clusterDNS', keys)).toBe('clusterDns');
    expect(closest('cin', keys)).toBe('cni');
    expect(closest('monitoring', keys)).toBeUndefined();
    expect(closest('x', keys)).toBeUndefined();
    expect(closest('a'.repeat(500), keys)).toBeUndefined();
  });
});
