/** A sample 3-server + 2-agent inventory (servers are also the etcd members), built through the real schema. */
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';

export function sampleInput(overrides: Partial<InventoryInput> = {}): InventoryInput {
  return {
    cluster: { name: 'homelab' },
    network: {},
    endpoint: { mode: 'keepalived', vip: '10.77.0.100' },
    hosts: [
      { name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'], labels: { 'example.com/zone': 'a' } },
      { name: 'node2', address: '10.77.0.12', roles: ['etcd', 'server'], arch: 'armhf' },
      { name: 'node3', address: '10.77.0.13', roles: ['etcd', 'server'], taints: ['dedicated=infra:NoSchedule'] },
      { name: 'node4', address: '10.77.0.14', roles: ['agent'], labels: { 'example.com/zone': 'b', 'example.com/disk': 'ssd' } },
      { name: 'node5', address: '10.77.0.15', roles: ['agent'] },
    ],
    ...overrides,
  };
}

export function sampleInventory(overrides: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse(sampleInput(overrides));
}

export function host(inv: Inventory, name: string): Inventory['hosts'][number] {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in the sample`);
  return h;
}
