import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { buildLabInventory, etcdCount, renderLabInventory, updateInventoryAddress, writeLabInventory } from '../../src/lab/inventory.js';
import { addressAt, initialOffsets, nodeName, parseSubnet } from '../../src/lab/config.js';

const versions = { etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1', k3s: null };
function nodes(n: number) {
  const s = parseSubnet('10.77.0.0/24');
  return initialOffsets(n).map((o, i) => ({ name: nodeName(i + 1), address: addressAt(s, o) }));
}
function input(n: number, backend: 'container' | 'vm' = 'container') {
  return { backend, nodes: nodes(n), vip: '10.77.0.100', keyPath: '/var/lib/kubi-provision/lab/kubilab/keys/id_ed25519', artifactsDir: '/cache/artifacts/x', versions };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-inv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lab inventory', () => {
  it('3 nodes: all etcd+server, node2 logs in as kubi with sudo, offline artifacts, Debian versions', () => {
    const inv = parseInventory(renderLabInventory(buildLabInventory(input(3)), 'container'), 'lab.yaml');
    expect(inv.cluster).toEqual({ name: 'lab', stateDir: '.kubi/lab' });
    expect(inv.hosts.map((h) => h.roles)).toEqual([['etcd', 'server'], ['etcd', 'server'], ['etcd', 'server']]);
    expect(inv.hosts[1]!.ssh).toEqual({ user: 'kubi', sudo: true });
    expect(inv.hosts[0]!.ssh).toBeUndefined();
    expect(inv.ssh).toMatchObject({ user: 'root', privateKey: '/var/lib/kubi-provision/lab/kubilab/keys/id_ed25519' });
    expect(inv.artifacts).toMatchObject({ source: 'offline', dir: '/cache/artifacts/x' });
    expect(inv.versions).toMatchObject({ etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1' });
    expect(inv.endpoint).toMatchObject({ mode: 'keepalived', vip: '10.77.0.100' });
    expect(inv.etcd.heartbeatIntervalMs).toBe(100);
  });

  it('more nodes: 3 (or 5 from 7 nodes) etcd+server, the rest agents', () => {
    expect(buildLabInventory(input(6)).hosts.map((h) => h.roles.join('+'))).toEqual(['etcd+server', 'etcd+server', 'etcd+server', 'agent', 'agent', 'agent']);
    expect(buildLabInventory(input(7)).hosts.filter((h) => h.roles.includes('etcd'))).toHaveLength(5);
    expect([1, 2, 3, 6, 7, 30].map(etcdCount)).toEqual([1, 1, 3, 3, 5, 5]);
  });

  it('the vm backend gets larger etcd timeouts', () => {
    const inv = parseInventory(renderLabInventory(buildLabInventory(input(1, 'vm')), 'vm'), 'lab.yaml');
    expect(inv.etcd).toMatchObject({ heartbeatIntervalMs: 500, electionTimeoutMs: 5000 });
  });

  it('a supplied k3s binary pins its version', () => {
    expect(buildLabInventory({ ...input(3), versions: { ...versions, k3s: 'v1.33.1+k3s1' } }).versions?.k3s).toBe('v1.33.1+k3s1');
  });

  it('is a valid inventory for every node count the lab accepts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.constantFrom('container' as const, 'vm' as const), (n, backend) => {
        const inv = parseInventory(renderLabInventory(buildLabInventory(input(n, backend)), backend), 'lab.yaml');
        expect(inv.hosts).toHaveLength(n);
        expect(inv.hosts.filter((h) => h.roles.includes('etcd')).length % 2).toBe(1);
      }),
      { numRuns: 40 },
    );
  });

  it('rebuild --new-address changes only that address and keeps comments', async () => {
    const file = path.join(dir, 'lab.yaml');
    await writeLabInventory(file, buildLabInventory(input(3)), 'container');
    await writeFile(file, `${await readFile(file, 'utf8')}# a comment the user added\n`);
    await updateInventoryAddress(file, 'node3', '10.77.0.14');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# a comment the user added');
    expect(text).toContain('Written by `kubi-provision lab up`');
    const inv = parseInventory(text, file);
    expect(inv.hosts.map((h) => h.address)).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.14']);
    await expect(updateInventoryAddress(file, 'node9', '10.77.0.15')).rejects.toThrow(/no host node9/);
  });
});
