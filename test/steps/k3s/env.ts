/**
 * A test environment for the containerd/CNI/endpoint/k3s steps: a real offline artifacts directory
 * (tiny scripts in real archives with real checksum files, test/artifacts/offline-fixture.ts), an
 * inventory of 3 servers (etcd+server) and 1 agent using it, facts with a network interface, and
 * a cluster context over a temp state directory. Remove `dir` when done.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import type { ClusterContext } from '../../../src/engine/types.js';
import type { Facts } from '../../../src/facts/types.js';
import { buildOfflineDir, V } from '../../artifacts/offline-fixture.js';
import { clusterOf, goodFacts } from '../host/context.js';

export interface StepEnv {
  dir: string;
  offline: string;
  stateDir: string;
  inventoryPath: string;
  input: InventoryInput;
  inv: Inventory;
  facts: Map<string, Facts>;
  cluster(mode?: 'plan' | 'apply'): ClusterContext;
  cleanup(): void;
}

export const NODES: NonNullable<InventoryInput['hosts']> = [
  { name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'] },
  { name: 'node2', address: '10.77.0.12', roles: ['etcd', 'server'] },
  { name: 'node3', address: '10.77.0.13', roles: ['etcd', 'server'] },
  { name: 'node4', address: '10.77.0.14', roles: ['agent'], labels: { 'example.com/tier': 'edge' }, taints: ['dedicated=edge:NoSchedule'] },
];

export function factsFor(name: string, address: string, extra: Partial<Facts> = {}): Facts {
  return {
    ...goodFacts(name),
    interfaces: [
      { name: 'lo', ipv4: ['127.0.0.1/8'], up: true },
      { name: 'eth0', ipv4: [`${address}/24`], up: true },
    ],
    ...extra,
  };
}

export function makeEnv(opts: { k3s?: boolean; crictl?: boolean; inventory?: Partial<InventoryInput>; facts?: Partial<Facts> } = {}): StepEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-steps-'));
  const offline = path.join(dir, 'offline');
  buildOfflineDir(offline);
  if (opts.k3s === false) rmSync(path.join(offline, 'k3s'), { recursive: true, force: true });
  if (opts.crictl !== true) rmSync(path.join(offline, 'crictl'), { recursive: true, force: true });
  const stateDir = path.join(dir, 'state');
  const input: InventoryInput = {
    cluster: { name: 'test', stateDir },
    versions: { etcd: V.etcd, containerd: V.containerd, runc: V.runc, cni: V.cni, k3s: V.k3s },
    endpoint: { mode: 'keepalived', vip: '10.77.0.100' },
    artifacts: { source: 'offline', dir: offline, cacheDir: path.join(dir, 'cache') },
    hosts: NODES.map((n) => structuredClone(n)),
    ...opts.inventory,
  };
  const inv = Inventory.parse(input);
  const inventoryPath = path.join(dir, 'inventory.yaml');
  writeFileSync(inventoryPath, stringify(input));
  const facts = new Map(inv.hosts.map((h) => [h.name, factsFor(h.name, h.address, opts.facts)]));
  return {
    dir,
    offline,
    stateDir,
    inventoryPath,
    input,
    inv,
    facts,
    cluster: (mode = 'apply') => clusterOf(inv, { mode, facts, stateDir, inventoryPath }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
