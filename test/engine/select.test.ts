import { describe, expect, it } from 'vitest';
import { selectSteps } from '../../src/engine/select.js';
import { UsageError } from '../../src/errors.js';

const ids = ['pki.generate', 'host.prepare', 'etcd.install', 'etcd.configure', 'etcd.start', 'k3s.install', 'k3s.configure'];

describe('selectSteps', () => {
  it('selects everything by default', () => {
    expect(selectSteps(ids)).toEqual(ids);
  });
  it('--only takes ids and component prefixes, comma separated, in playbook order', () => {
    expect(selectSteps(ids, { only: ['k3s.install,host.prepare'] })).toEqual(['host.prepare', 'k3s.install']);
    expect(selectSteps(ids, { only: ['etcd'] })).toEqual(['etcd.install', 'etcd.configure', 'etcd.start']);
  });
  it('--from starts at the first match, --until stops after the last match', () => {
    expect(selectSteps(ids, { from: 'etcd' })).toEqual(['etcd.install', 'etcd.configure', 'etcd.start', 'k3s.install', 'k3s.configure']);
    expect(selectSteps(ids, { until: 'etcd' })).toEqual(['pki.generate', 'host.prepare', 'etcd.install', 'etcd.configure', 'etcd.start']);
    expect(selectSteps(ids, { from: 'etcd.configure', until: 'k3s.install' })).toEqual(['etcd.configure', 'etcd.start', 'k3s.install']);
    expect(selectSteps(ids, { from: 'etcd.start', until: 'etcd.start' })).toEqual(['etcd.start']);
  });
  it('refuses unknown references with did-you-mean, reversed ranges, and --only with a range', () => {
    expect(() => selectSteps(ids, { until: 'etcd.confgure' })).toThrow('--until etcd.confgure: no such step in this playbook (did you mean etcd.configure?)');
    expect(() => selectSteps(ids, { only: ['etc'] })).toThrow(/did you mean etcd\?/);
    expect(() => selectSteps(ids, { from: 'k3s', until: 'etcd' })).toThrow(UsageError);
    expect(() => selectSteps(ids, { only: ['etcd'], from: 'pki' })).toThrow(/--only cannot be combined/);
    try {
      selectSteps(ids, { from: 'nothing' });
    } catch (e) {
      expect((e as UsageError).exitCode).toBe(2);
    }
  });
});
