/** Shared builders for engine tests: inventories, cluster contexts, small real steps, fake hosts. */
import path from 'node:path';
import { Inventory, type InventoryInput } from '../../src/inventory/schema.js';
import type { ClusterContext, LocalStep, Step, StepContext, Change } from '../../src/engine/types.js';
import { observeDesired, planDesired, type DesiredState } from '../../src/steps/lib/desired.js';
import { StepRegistry } from '../../src/steps/registry.js';
import { parsePlaybook, type Playbook } from '../../src/engine/playbook.js';
import { FakeHost, fakeFacts, type Call } from './fake-host.js';
import type { Facts } from '../../src/facts/types.js';

export function inventory(hosts: { name: string; roles: ('etcd' | 'server' | 'agent')[] }[], extra: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 'test' },
    endpoint: { mode: 'none' },
    ...extra,
    hosts: hosts.map((h, i) => ({ name: h.name, address: `10.0.0.${11 + i}`, roles: h.roles })),
  });
}

export const threeNodes = (): Inventory =>
  inventory([
    { name: 'node1', roles: ['etcd', 'server'] },
    { name: 'node2', roles: ['etcd', 'server'] },
    { name: 'node3', roles: ['etcd', 'server'] },
    { name: 'worker1', roles: ['agent'] },
  ]);

export function fakeHosts(inv: Inventory, journal: Call[] = []): Map<string, FakeHost> {
  return new Map(inv.hosts.map((h) => [h.name, new FakeHost(h.name, h.address, journal)]));
}

export function cluster(inv: Inventory, mode: 'plan' | 'apply', opts: { signal?: AbortSignal; stateDir?: string } = {}): ClusterContext {
  let t = 0;
  const facts = new Map<string, Facts>(inv.hosts.map((h) => [h.name, fakeFacts(h.name)]));
  return {
    inventory: inv,
    inventoryPath: '/tmp/inventory.yaml',
    stateDir: opts.stateDir ?? '/tmp/kubi-test-state',
    mode,
    facts,
    services: {},
    signal: opts.signal ?? new AbortController().signal,
    // a fake clock: every reading advances 1 ms, so durations are deterministic
    now: () => new Date(Date.UTC(2025, 0, 1) + t++),
    sleep: async () => undefined,
  };
}

/** A real step built on the step helpers: desired state is a function of the host. */
export function desiredStep(id: string, title: string, desired: (ctx: StepContext) => DesiredState, extra: Partial<Step<unknown>> = {}): Step<unknown> {
  return {
    id,
    title,
    check: (ctx) => observeDesired(ctx.remote, desired(ctx)),
    plan: (obs, ctx) => planDesired(desired(ctx), obs as Parameters<typeof planDesired>[1]),
    ...extra,
  };
}

/** A step writing one file per host: /etc/demo/<name>.conf */
export function fileStep(id: string, file: string, content: (host: string) => string, mode = 0o644): Step<unknown> {
  return desiredStep(id, `Write ${file}`, (ctx) => ({
    dirs: [{ path: path.dirname(file), mode: 0o755 }],
    files: [{ path: file, content: content(ctx.host.name), mode }],
  }));
}

export function localStep(id: string, plan: () => Change[], apply?: LocalStep['apply']): LocalStep<unknown> {
  return { id, title: `Local ${id}`, local: true, check: async () => null, plan: () => plan(), ...(apply ? { apply } : {}) };
}

export function playbookOf(registry: StepRegistry, yaml: string, file = 'test.yaml'): Playbook {
  return parsePlaybook(yaml, file, registry);
}

export function registryWith(...steps: (Step<unknown> | LocalStep<unknown>)[]): StepRegistry {
  const r = new StepRegistry();
  r.register(...steps);
  return r;
}
