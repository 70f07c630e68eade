import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import fc from 'fast-check';
import { clusterKubeconfig, endpointUrl, mergeKubeconfig, parseKubeconfig, secretsOf } from '../../../src/steps/k3s/kubeconfig.js';
import { mergeTarget } from '../../../src/cli/commands/kubeconfig.js';
import { Inventory } from '../../../src/inventory/schema.js';

/** What k3s writes to /etc/rancher/k3s/k3s.yaml (shape; data shortened). */
const K3S_YAML = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVC1EQVRB
    client-key-data: S0VZLURBVEEtU0VDUkVU
`;

const OTHER = `apiVersion: v1
kind: Config
clusters:
- name: work
  cluster: { server: 'https://work.example:6443', certificate-authority-data: V09SSw== }
users:
- name: work-admin
  user: { token: work-token-123456 }
contexts:
- name: work
  context: { cluster: work, user: work-admin, namespace: apps }
current-context: work
preferences: { colors: true }
`;

function inv(mode: 'keepalived' | 'none', port = 6443): Inventory {
  return Inventory.parse({
    cluster: { name: 'homelab' },
    endpoint: mode === 'none' ? { mode, port } : { mode, vip: '10.77.0.100', port },
    hosts: [{ name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'] }],
  });
}

describe('clusterKubeconfig', () => {
  it('points at the endpoint and names cluster, user and context after the cluster', () => {
    const out = parse(clusterKubeconfig(K3S_YAML, { name: 'homelab', server: 'https://10.77.0.100:6443' }));
    expect(out.clusters).toEqual([{ name: 'homelab', cluster: { 'certificate-authority-data': 'Q0EtREFUQQ==', server: 'https://10.77.0.100:6443' } }]);
    expect(out.users).toEqual([{ name: 'homelab', user: { 'client-certificate-data': 'Q0VSVC1EQVRB', 'client-key-data': 'S0VZLURBVEEtU0VDUkVU' } }]);
    expect(out.contexts).toEqual([{ name: 'homelab', context: { cluster: 'homelab', user: 'homelab' } }]);
    expect(out['current-context']).toBe('homelab');
  });

  it('refuses a file without a cluster or user', () => {
    expect(() => clusterKubeconfig('apiVersion: v1\nkind: Config\n', { name: 'x', server: 'https://a:1' })).toThrow(/no cluster or user/);
    expect(() => clusterKubeconfig('- just a list', { name: 'x', server: 'https://a:1' })).toThrow(/not a kubeconfig/);
  });

  it('endpoint URL: the VIP and port, or the given server with endpoint mode none', () => {
    expect(endpointUrl(inv('keepalived'), '10.77.0.11')).toBe('https://10.77.0.100:6443');
    expect(endpointUrl(inv('keepalived', 7443), '10.77.0.11')).toBe('https://10.77.0.100:7443');
    expect(endpointUrl(inv('none'), '10.77.0.12')).toBe('https://10.77.0.12:6443');
  });

  it('lists the secrets (client key, tokens) for the redactor', () => {
    expect(secretsOf(K3S_YAML)).toEqual(['S0VZLURBVEEtU0VDUkVU']);
    expect(secretsOf(OTHER)).toEqual(['work-token-123456']);
  });
});

describe('mergeKubeconfig', () => {
  const ours = clusterKubeconfig(K3S_YAML, { name: 'homelab', server: 'https://10.77.0.100:6443' });

  it('into nothing: the cluster config itself', () => {
    expect(parse(mergeKubeconfig(null, ours))).toEqual(parse(ours));
  });

  it('keeps every other cluster, user, context and preference untouched and switches the current context', () => {
    const merged = parse(mergeKubeconfig(OTHER, ours));
    const other = parse(OTHER);
    expect(merged.clusters).toEqual([...other.clusters, ...parse(ours).clusters]);
    expect(merged.users).toEqual([...other.users, ...parse(ours).users]);
    expect(merged.contexts).toEqual([...other.contexts, ...parse(ours).contexts]);
    expect(merged.preferences).toEqual({ colors: true });
    expect(merged['current-context']).toBe('homelab');
  });

  it('replaces the entries of the same name in place (a second merge is idempotent)', () => {
    const once = mergeKubeconfig(OTHER, ours);
    const newer = clusterKubeconfig(K3S_YAML.replace('S0VZLURBVEEtU0VDUkVU', 'TkVXLUtFWQ=='), { name: 'homelab', server: 'https://10.77.0.101:6443' });
    const twice = parse(mergeKubeconfig(once, newer));
    expect(twice.clusters.map((c: { name: string }) => c.name)).toEqual(['work', 'homelab']);
    expect(twice.clusters[1].cluster.server).toBe('https://10.77.0.101:6443');
    expect(twice.users[1].user['client-key-data']).toBe('TkVXLUtFWQ==');
    expect(twice.users[0]).toEqual(parse(OTHER).users[0]);
    expect(mergeKubeconfig(once, ours)).toBe(once);
  });

  it('refuses to merge into a file that is not a kubeconfig (nothing is overwritten)', () => {
    expect(() => mergeKubeconfig('clusters: 5\n', ours)).toThrow(/not a kubeconfig/);
    expect(() => mergeKubeconfig('{ not yaml', ours)).toThrow(/not a kubeconfig/);
  });

  it('property: other entries survive any merge, ours is present exactly once', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 6 }), (names) => {
        const existing = parseKubeconfig(OTHER, 'x');
        existing.clusters = names.map((n) => ({ name: n, cluster: { server: `https://${n}:6443` } }));
        existing.contexts = names.map((n) => ({ name: n, context: { cluster: n, user: n } }));
        const merged = parse(mergeKubeconfig(JSON.stringify(existing), ours));
        const others = names.filter((n) => n !== 'homelab');
        for (const n of others) expect(merged.clusters.find((c: { name: string }) => c.name === n).cluster.server).toBe(`https://${n}:6443`);
        expect(merged.clusters.filter((c: { name: string }) => c.name === 'homelab')).toHaveLength(1);
        expect(merged.contexts.filter((c: { name: string }) => c.name === 'homelab')).toHaveLength(1);
      }),
      { numRuns: 60 },
    );
  });
});

describe('mergeTarget', () => {
  it('the first entry of $KUBECONFIG, else ~/.kube/config', () => {
    expect(mergeTarget({}, '/home/ada')).toBe('/home/ada/.kube/config');
    expect(mergeTarget({ KUBECONFIG: '/tmp/a:/tmp/b' }, '/home/ada')).toBe('/tmp/a');
    expect(mergeTarget({ KUBECONFIG: '' }, '/home/ada')).toBe('/home/ada/.kube/config');
  });
});
