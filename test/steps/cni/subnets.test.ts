import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { allocationFor, cniSubnets, parseSavedSubnets, planSubnets, podSubnets, renderSavedSubnets } from '../../../src/steps/cni/subnets.js';
import { applyLocalChanges } from '../../../src/engine/apply-local.js';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { makeEnv, type StepEnv } from '../k3s/env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

function inv(names: string[], network: InventoryInput['network'] = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 't' },
    endpoint: { mode: 'none' },
    network,
    hosts: names.map((n, i) => ({ name: n, address: `10.0.0.${i + 10}`, roles: i === 0 ? ['etcd', 'server'] : ['agent'] })),
  });
}

async function runLocal(cluster: ReturnType<StepEnv['cluster']>) {
  const ctx = { cluster, report: () => undefined };
  const changes = await cniSubnets.plan(await cniSubnets.check(ctx), ctx);
  await applyLocalChanges(cluster.stateDir, changes);
  return changes;
}

describe('pod subnet allocation kept in the state directory', () => {
  it('a fresh cluster: node i gets block i, in inventory order', () => {
    expect(allocationFor({ inventory: inv(['a', 'b', 'c']) }, null).subnets).toEqual({ a: '10.42.0.0/24', b: '10.42.1.0/24', c: '10.42.2.0/24' });
  });

  it('adding and removing hosts never moves the subnet of a node that stays', () => {
    const first = allocationFor({ inventory: inv(['a', 'b', 'c']) }, null);
    // a new host in the MIDDLE of the inventory gets a free block, not b's
    const added = allocationFor({ inventory: inv(['a', 'new', 'b', 'c']) }, first);
    expect(added.subnets).toEqual({ a: '10.42.0.0/24', new: '10.42.3.0/24', b: '10.42.1.0/24', c: '10.42.2.0/24' });
    // removing b frees its block for the next newcomer; the others stay
    const removed = allocationFor({ inventory: inv(['a', 'new', 'c', 'late']) }, added);
    expect(removed.subnets).toEqual({ a: '10.42.0.0/24', new: '10.42.3.0/24', c: '10.42.2.0/24', late: '10.42.1.0/24' });
  });

  it('a saved allocation of another pod CIDR or mask is not reused', () => {
    const first = allocationFor({ inventory: inv(['a', 'b']) }, null);
    expect(allocationFor({ inventory: inv(['b', 'a'], { nodeCidrMaskSize: 25 }) }, first).subnets).toEqual({ b: '10.42.0.0/25', a: '10.42.0.128/25' });
  });

  it('file format round trip; a damaged file is refused with a hint, not silently replaced', () => {
    const s = allocationFor({ inventory: inv(['a', 'b']) }, null);
    expect(parseSavedSubnets(renderSavedSubnets(s))).toEqual(s);
    expect(() => parseSavedSubnets('{')).toThrow(/not JSON/);
    expect(() => parseSavedSubnets('{"subnets": {}}')).toThrow(/does not hold podCidr, maskSize and subnets/);
  });

  it('plan: create once (0600), then nothing; a wrong mode is fixed; flannel mode plans nothing', () => {
    const c = { inventory: inv(['a', 'b']) };
    const text = renderSavedSubnets(allocationFor(c, null));
    expect(planSubnets({ text: null, mode: null }, c)).toEqual([{ kind: 'file', path: 'pod-subnets.json', content: text, mode: 0o600, action: 'create', before: null }]);
    expect(planSubnets({ text, mode: 0o600 }, c)).toEqual([]);
    expect(planSubnets({ text, mode: 0o644 }, c)).toMatchObject([{ action: 'chmod' }]);
    expect(planSubnets({ text: null, mode: null }, { inventory: inv(['a'], { cni: 'flannel' }) })).toEqual([]);
  });

  it('the local step writes the file atomically; host steps read the same allocation; an added host keeps the others', async () => {
    env = makeEnv();
    const changes = await runLocal(env.cluster('apply'));
    expect(changes).toHaveLength(1);
    const file = path.join(env.stateDir, 'pod-subnets.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = parseSavedSubnets(readFileSync(file, 'utf8'));
    expect(saved.subnets).toEqual({ node1: '10.42.0.0/24', node2: '10.42.1.0/24', node3: '10.42.2.0/24', node4: '10.42.3.0/24' });
    expect(await podSubnets(env.cluster('plan'))).toEqual(saved.subnets);
    expect(await runLocal(env.cluster('apply'))).toEqual([]);
    // a new agent first in the host list
    const grown = Inventory.parse({ ...env.input, hosts: [{ name: 'node0', address: '10.77.0.10', roles: ['agent'] }, ...env.input.hosts] });
    const cluster = { ...env.cluster('apply'), inventory: grown };
    expect(await podSubnets(cluster)).toEqual({ ...saved.subnets, node0: '10.42.4.0/24' });
  });
});
