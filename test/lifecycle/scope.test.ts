/** Scoping the real up playbook to one host (pure). */
import { describe, expect, it } from 'vitest';
import '../../src/steps/index.js';
import { loadPlaybook } from '../../src/engine/playbook.js';
import { Inventory } from '../../src/inventory/schema.js';
import { scopePlaybook } from '../../src/lifecycle/scope.js';

const inv = Inventory.parse({
  cluster: { name: 'lab' },
  endpoint: { mode: 'none' },
  hosts: [
    { name: 'node1', address: '10.0.0.11', roles: ['etcd', 'server'] },
    { name: 'node2', address: '10.0.0.12', roles: ['etcd', 'server'] },
    { name: 'node3', address: '10.0.0.13', roles: ['etcd', 'server'] },
    { name: 'worker', address: '10.0.0.14', roles: ['agent'] },
  ],
});

describe('scopePlaybook', () => {
  it('keeps local steps, narrows host steps to the wanted hosts, drops steps with none left', async () => {
    const up = await loadPlaybook('up');
    const scoped = scopePlaybook(up, inv, ['node3'], { until: 'etcd' });
    expect(scoped.steps.map((s) => s.id)).toEqual([
      'host.preflight',
      'host.packages',
      'host.kernel',
      'host.swap',
      'host.raspberry-pi',
      'pki.etcd',
      'artifacts.etcd',
      'etcd.install',
      'etcd.certificates',
      'etcd.configure',
      'etcd.members',
      'etcd.start',
      'etcd.roll',
    ]);
    for (const s of scoped.steps) expect(s.selector).toEqual(s.selector.kind === 'local' ? { kind: 'local' } : { kind: 'names', names: ['node3'] });
    expect(scoped.steps.find((s) => s.id === 'etcd.members')?.strategy).toBe('serial');

    const worker = scopePlaybook(up, inv, ['worker'], {});
    expect(worker.steps.some((s) => s.id.startsWith('etcd.'))).toBe(false);
    expect(worker.steps.find((s) => s.id === 'k3s.start-agents')?.selector).toEqual({ kind: 'names', names: ['worker'] });
    expect(worker.steps.some((s) => s.id === 'endpoint.install')).toBe(false);
  });
});
