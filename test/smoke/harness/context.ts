/** Test helpers: a valid lab-like inventory and a smoke context over scripted hosts and a fake clock. */
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import type { Facts } from '../../../src/facts/types.js';
import { createSmokeContext, type SmokeContext, type SmokeOptions } from '../../../src/smoke/context.js';
import type { RemoteHost } from '../../../src/transport/types.js';
import { FakeClock } from './scripted-host.js';

export function testInventory(over: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 'lab' },
    endpoint: { mode: 'keepalived', vip: '10.77.0.100' },
    hosts: [
      { name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'], arch: 'amd64' },
      { name: 'node2', address: '10.77.0.12', roles: ['etcd', 'server'] },
      { name: 'node3', address: '10.77.0.13', roles: ['etcd', 'server'] },
    ],
    ...over,
  } satisfies InventoryInput);
}

export function factsFor(address: string, arch: Facts['arch'] = 'amd64'): Facts {
  return {
    hostname: 'x',
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', codename: 'bookworm', idLike: [] },
    kernel: { release: '6.1.0-28-amd64', machine: 'x86_64' },
    arch,
    archSource: { dpkg: arch === 'unknown' ? null : arch, uname: 'x86_64' },
    cgroup: { version: 2, memoryController: true, controllers: ['memory'] },
    raspberryPi: null,
    memory: { totalBytes: 2 ** 31, availableBytes: 2 ** 30 },
    swap: { totalBytes: 0, devices: [] },
    diskFreeVarBytes: 2 ** 33,
    interfaces: [
      { name: 'lo', ipv4: ['127.0.0.1/8'], up: true },
      { name: 'eth0', ipv4: [`${address}/24`], up: true },
    ],
    systemd: { version: 252, running: true },
    timeSync: { synchronized: true, service: 'systemd-timesyncd' },
    packageManager: 'apt',
    container: null,
    isRoot: true,
  };
}

export function testContext(args: {
  inventory?: Inventory;
  hosts: RemoteHost[];
  unreachable?: Record<string, string>;
  clock?: FakeClock;
  options?: Partial<SmokeOptions>;
  facts?: (remote: RemoteHost) => Promise<Facts>;
  podSubnets?: Record<string, string>;
  files?: Record<string, Buffer>;
}): SmokeContext {
  const clock = args.clock ?? new FakeClock();
  let n = 0;
  return createSmokeContext({
    inventory: args.inventory ?? testInventory(),
    remotes: new Map(args.hosts.map((h) => [h.name, h])),
    unreachable: new Map(Object.entries(args.unreachable ?? {})),
    options: { timeoutMs: 10_000, intervalMs: 1_000, ...args.options },
    gatherFacts: args.facts ?? (async (r) => factsFor(r.address)),
    podSubnets: args.podSubnets ?? {},
    readLocalFile: async (p) => args.files?.[p] ?? null,
    now: clock.now,
    sleep: clock.sleep,
    randomId: () => `r${(++n).toString().padStart(3, '0')}`,
  });
}
