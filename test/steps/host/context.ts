/** Test helpers: an inventory, a cluster context (fake clock and sleep) and step contexts over fake nodes. */
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import type { ClusterContext, StepContext } from '../../../src/engine/types.js';
import type { Facts } from '../../../src/facts/types.js';
import type { RemoteHost } from '../../../src/transport/types.js';
import { fakeFacts } from '../../engine/fake-host.js';

/** The engine's fake facts with realistic memory and disk (a host that passes preflight). */
export function goodFacts(name: string): Facts {
  return { ...fakeFacts(name), memory: { totalBytes: 4 * 1024 ** 3, availableBytes: 2 * 1024 ** 3 }, diskFreeVarBytes: 10 * 1024 ** 3 };
}

export function threeNodes(extra: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 'test' },
    endpoint: { mode: 'none' },
    hosts: [1, 2, 3].map((i) => ({ name: `node${i}`, address: `10.77.0.1${i}`, roles: ['etcd', 'server'] })),
    ...extra,
  });
}

export interface FakeClock {
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** total ms slept */
  slept: number;
}

export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start;
  const clock: FakeClock = {
    slept: 0,
    now: () => new Date(t),
    sleep: async (ms) => {
      t += ms;
      clock.slept += ms;
    },
  };
  return clock;
}

export function clusterOf(
  inv: Inventory,
  opts: { mode?: 'plan' | 'apply'; facts?: Map<string, Facts>; stateDir?: string; clock?: FakeClock; inventoryPath?: string } = {},
): ClusterContext {
  const clock = opts.clock ?? fakeClock();
  const facts = opts.facts ?? new Map(inv.hosts.map((h) => [h.name, goodFacts(h.name)]));
  return {
    inventory: inv,
    inventoryPath: opts.inventoryPath ?? '/nonexistent/inventory.yaml',
    stateDir: opts.stateDir ?? '/nonexistent/state',
    mode: opts.mode ?? 'apply',
    facts,
    services: {},
    signal: new AbortController().signal,
    now: () => clock.now(),
    sleep: (ms) => clock.sleep(ms),
  };
}

export function stepCtx(cluster: ClusterContext, hostName: string, remote: RemoteHost, messages: string[] = []): StepContext {
  const host = cluster.inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host ${hostName}`);
  const facts = cluster.facts.get(hostName);
  if (!facts) throw new Error(`no facts for ${hostName}`);
  return { cluster, host, remote, facts, report: (m) => messages.push(m) };
}
