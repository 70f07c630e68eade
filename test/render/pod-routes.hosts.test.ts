/**
 * The rendered pod-routes.sh, run for real with iproute2 in a private network namespace (root):
 * it adds the routes to the other nodes' pod subnets with protocol 77, is idempotent, removes
 * kubi routes of nodes that left, and leaves other routes alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildPodRoutesContext, kubeNodes, renderPodRoutesScript } from '../../src/render/index.js';
import { allocatePodSubnets } from '../../src/network/pod-subnets.js';
import { host, sampleInput, sampleInventory } from './helpers/sample.js';
import { Inventory } from '../../src/inventory/schema.js';

const SETUP = `set -eu
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.77.0.14/24 dev v0
ip link set v1 up
ip link set v0 up
# a kubi route of a node that left, and a route that is not ours
ip route add 10.42.9.0/24 via 10.77.0.19 proto 77
ip route add 10.99.0.0/24 via 10.77.0.19
`;

describe('pod-routes.sh on a real network stack', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-routes-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds the wanted routes, is idempotent, and removes only stale kubi routes', () => {
    const inv = sampleInventory();
    const subnets = allocatePodSubnets(kubeNodes(inv).map((h) => h.name), inv.network.podCidr, inv.network.nodeCidrMaskSize);
    writeFileSync(path.join(dir, 'full.sh'), renderPodRoutesScript(buildPodRoutesContext(inv, host(inv, 'node4'), subnets)));

    // node5 leaves; the others keep their subnets
    const input = sampleInput();
    const smaller = Inventory.parse({ ...input, hosts: input.hosts.filter((h) => h.name !== 'node5') });
    const kept = allocatePodSubnets(kubeNodes(smaller).map((h) => h.name), smaller.network.podCidr, smaller.network.nodeCidrMaskSize, subnets);
    writeFileSync(path.join(dir, 'smaller.sh'), renderPodRoutesScript(buildPodRoutesContext(smaller, host(smaller, 'node4'), kept)));

    const show = `echo "== kubi"; ip -4 route show proto 77; echo "== all"; ip -4 route show`;
    const out = execFileSync(
      'unshare',
      ['--net', '--fork', '--', '/bin/sh', '-c', `${SETUP}\nsh "$1/full.sh"\n${show}\nsh "$1/full.sh"\n${show}\nsh "$1/smaller.sh"\n${show}\n`, 'sh', dir],
      { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    const runs = out.split('== kubi\n').slice(1).map((chunk) => {
      const [kubi, all] = chunk.split('== all\n');
      return { kubi: kubi!.trim().split('\n').filter(Boolean), all: all!.trim().split('\n') };
    });
    expect(runs).toHaveLength(3);
    const wanted = ['10.42.0.0/24 via 10.77.0.11', '10.42.1.0/24 via 10.77.0.12', '10.42.2.0/24 via 10.77.0.13', '10.42.4.0/24 via 10.77.0.15'];
    expect(runs[0]!.kubi.map((l) => l.split(' dev ')[0])).toEqual(wanted);
    expect(runs[0]!.all.some((l) => l.startsWith('10.99.0.0/24 via 10.77.0.19'))).toBe(true);
    expect(runs[0]!.all.some((l) => l.startsWith('10.42.9.0/24'))).toBe(false);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]!.kubi.map((l) => l.split(' dev ')[0])).toEqual(wanted.slice(0, 3));
    expect(runs[2]!.all.some((l) => l.startsWith('10.99.0.0/24 via 10.77.0.19'))).toBe(true);
  });
});
