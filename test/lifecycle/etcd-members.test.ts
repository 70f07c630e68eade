/** The plan of etcd.members (pure): converged members, interrupted joins, new hosts, rebuilt hosts, quorum. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isKubiError } from '../../src/errors.js';
import { Inventory } from '../../src/inventory/schema.js';
import { parseMemberList, type Member } from '../../src/steps/etcd/etcdctl.js';
import type { ClusterView } from '../../src/steps/lifecycle/etcd-cluster.js';
import { JOIN_TITLE, PROMOTE_TITLE, UPDATE_PEER_TITLE, parseLocal, planMembers, type MembersObserved } from '../../src/steps/lifecycle/etcd-members.js';

const fx = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');
const members = parseMemberList(fx('member-list.json'))!;

function inventory(addresses: Record<string, string>): Inventory {
  return Inventory.parse({
    cluster: { name: 'lab' },
    versions: { etcd: 'v3.4.23' },
    endpoint: { mode: 'none' },
    etcd: { allowEvenMembers: true },
    hosts: Object.entries(addresses).map(([name, address]) => ({ name, address, roles: ['etcd', 'server'] })),
  });
}
const lab = inventory({ node1: '10.210.10.11', node2: '10.210.10.12', node3: '10.210.10.13' });
const host = (inv: Inventory, name: string) => inv.hosts.find((h) => h.name === name)!;
const allHealthy = (ms: readonly Member[]) => ms.flatMap((m) => m.clientURLs.map((endpoint) => ({ endpoint, health: true })));
const view = (ms: Member[], health = allHealthy(ms)): ClusterView => ({ via: 'node2', members: ms, health, leaderId: '', version: '3.4.23' });
const fresh = (cluster: MembersObserved['cluster']): MembersObserved => ({ active: false, hasData: false, localMembers: null, cluster });
const titles = (cs: { kind: string; title?: string }[]) => cs.map((c) => c.title);

describe('etcd.members plan', () => {
  it('a running member that matches the inventory: nothing (a converged cluster plans nothing)', () => {
    expect(planMembers({ active: true, hasData: true, localMembers: members, cluster: null }, lab, host(lab, 'node1'))).toEqual([]);
    // running but the member list is unreadable (no quorum): nothing here, the health steps report it
    expect(planMembers({ active: true, hasData: true, localMembers: null, cluster: null }, lab, host(lab, 'node1'))).toEqual([]);
  });

  it('an interrupted join left a learner: promote it; a changed address: update the peer URL', () => {
    const learner = members.map((m) => (m.name === 'node2' ? { ...m, isLearner: true } : m));
    expect(titles(planMembers({ active: true, hasData: true, localMembers: learner, cluster: null }, lab, host(lab, 'node2')))).toEqual([PROMOTE_TITLE]);
    const moved = inventory({ node1: '10.210.10.11', node2: '10.210.10.22', node3: '10.210.10.13' });
    const changes = planMembers({ active: true, hasData: true, localMembers: members, cluster: null }, moved, host(moved, 'node2'));
    expect(changes).toEqual([
      {
        kind: 'action',
        title: UPDATE_PEER_TITLE,
        detail: ['from https://10.210.10.12:2380 to https://10.210.10.22:2380', 'then restart this member on its new address and wait until it answers healthy'],
        shell: 'etcdctl member update ec53282777b4fb22 --peer-urls=https://10.210.10.22:2380 && systemctl restart etcd',
      },
    ]);
  });

  it('a fresh host with no healthy member anywhere: a new cluster, etcd.start bootstraps it', () => {
    expect(planMembers(fresh(null), lab, host(lab, 'node1'))).toEqual([]);
    expect(planMembers(fresh({ view: null, probes: [{ name: 'node2', state: 'down' }] }), lab, host(lab, 'node1'))).toEqual([]);
  });

  it('a host added to the inventory joins (the inventory allows 3.4+ only: always as a learner), then promote', () => {
    const four = inventory({ node1: '10.210.10.11', node2: '10.210.10.12', node3: '10.210.10.13', node4: '10.210.10.14' });
    const changes = planMembers(fresh({ view: view(members), probes: [] }), four, host(four, 'node4'));
    expect(titles(changes)).toEqual([JOIN_TITLE]);
    expect(changes[0]).toMatchObject({ detail: expect.arrayContaining(['etcdctl member add node4 --peer-urls=https://10.210.10.14:2380 --learner', 'promote the learner once it has caught up']) });
  });

  it('a member added before but never started is started, not added twice', () => {
    const unstarted = [...members.filter((m) => m.name !== 'node3'), { id: 'abc', name: '', peerURLs: ['https://10.210.10.13:2380'], clientURLs: [], isLearner: true }];
    const changes = planMembers(fresh({ view: view(unstarted), probes: [] }), lab, host(lab, 'node3'));
    expect(titles(changes)).toEqual([JOIN_TITLE]);
    expect(changes[0]).toMatchObject({ detail: expect.arrayContaining(['the member was added before (id abc), never started: start it']) });
  });

  it('a rebuilt host still listed as a started member is refused, pointing at replace', () => {
    try {
      planMembers(fresh({ view: view(members), probes: [] }), lab, host(lab, 'node3'));
      expect.unreachable('a stale member must be refused');
    } catch (e) {
      expect(isKubiError(e) && e.code).toBe('etcd-stale-member');
      expect(isKubiError(e) && e.hint).toContain('kubi-provision replace <inventory> node3');
    }
  });

  it('no join without a majority', () => {
    const four = inventory({ node1: '10.210.10.11', node2: '10.210.10.12', node3: '10.210.10.13', node4: '10.210.10.14' });
    const oneHealthy = [{ endpoint: 'https://10.210.10.11:2379', health: true }];
    expect(() => planMembers(fresh({ view: view(members, oneHealthy), probes: [] }), four, host(four, 'node4'))).toThrow(/needs a majority/);
  });

  it('parses the local probe (unit, data, member list)', () => {
    const out = `\n@@kubi:unit@@\nactive\n\n@@kubi:data@@\nyes\n\n@@kubi:members@@\n${fx('member-list.json')}`;
    const local = parseLocal(out);
    expect(local).toMatchObject({ active: true, hasData: true });
    expect(local.localMembers?.map((m) => m.name)).toEqual(['node1', 'node3', 'node2']);
    expect(parseLocal('\n@@kubi:unit@@\ninactive\n\n@@kubi:data@@\nno\n')).toEqual({ active: false, hasData: false, localMembers: null });
  });
});
