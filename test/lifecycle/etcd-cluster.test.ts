/** Parsers and pure decisions of the membership operations, on real etcdctl 3.4.23 outputs (fixtures/README.md). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Inventory } from '../../src/inventory/schema.js';
import { parseMemberList } from '../../src/steps/etcd/etcdctl.js';
import {
  chooseSeed,
  etcdctlError,
  initialClusterOf,
  isTransientMembershipError,
  memberOf,
  memberViews,
  parseMemberAdd,
  parseSeedProbe,
  supportsLearners,
  viewsFromProbes,
} from '../../src/steps/lifecycle/etcd-cluster.js';

const fx = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');

const inv = Inventory.parse({
  cluster: { name: 'lab' },
  endpoint: { mode: 'none' },
  hosts: [1, 2, 3, 9].map((i) => ({ name: `node${i}`, address: `10.210.10.1${i}`, roles: ['etcd', 'server'] })),
  etcd: { allowEvenMembers: true },
});
const host = (name: string) => inv.hosts.find((h) => h.name === name)!;

describe('seed probes', () => {
  const section = (name: string, body: string) => `\n@@kubi:${name}@@\n${body}\n`;
  it('a member answering healthy is a seed; the leader is preferred', () => {
    const status = fx('endpoint-status-partial.json');
    const healthy = `${section('health', '[{"endpoint":"https://127.0.0.1:2379","health":true,"took":"3ms"}]')}${section('status', status)}${section('unit', 'active')}`;
    const p1 = parseSeedProbe('node1', healthy);
    expect(p1).toMatchObject({ name: 'node1', state: 'healthy', memberId: '3bec521691dd7ee3', leaderId: 'ec0850617e075d76', version: '3.4.23' });
    const leader = { ...p1, name: 'node3', memberId: 'ec0850617e075d76' };
    expect(chooseSeed([p1, leader])?.name).toBe('node3');
    expect(chooseSeed([p1])?.name).toBe('node1');
  });

  it('answers without quorum, down and unreachable are no seeds', () => {
    const noQuorum = parseSeedProbe('node1', `${section('health', '[{"endpoint":"https://127.0.0.1:2379","health":false,"error":"context deadline exceeded"}]')}${section('status', fx('endpoint-status-partial.json'))}${section('unit', 'active')}`);
    expect(noQuorum.state).toBe('unhealthy');
    const down = parseSeedProbe('node2', `${section('health', '')}${section('status', '')}${section('unit', 'inactive')}`);
    expect(down).toEqual({ name: 'node2', state: 'down', detail: 'etcd.service is inactive' });
    expect(chooseSeed([noQuorum, down, { name: 'node3', state: 'unreachable' }])).toBeNull();
    expect(viewsFromProbes([noQuorum, down], inv, 'node3').map((v) => `${v.name}:${v.health}`)).toEqual(['node1:unhealthy', 'node2:unreachable', 'node3:unreachable', 'node9:unreachable']);
  });
});

describe('member list views', () => {
  const added = parseMemberAdd(fx('member-add-learner.json'));

  it('member add --learner: the new id (hex) and every member, the new one unstarted', () => {
    expect(added?.id).toBe('52ee4d0c035ba917');
    expect(added?.members.map((m) => [m.name, m.isLearner])).toEqual([
      ['node1', false],
      ['', true],
      ['node3', false],
      ['node2', false],
    ]);
  });

  it('the joining host is found by its peer URL before it has a name; the initial cluster lists everyone', () => {
    const view = { members: added!.members };
    expect(memberOf(view, host('node9'))?.id).toBe('52ee4d0c035ba917');
    expect(initialClusterOf(added!.members, inv, host('node9'))).toBe(
      'node1=https://10.210.10.11:2380,node2=https://10.210.10.12:2380,node3=https://10.210.10.13:2380,node9=https://10.210.10.19:2380',
    );
  });

  it('health per member comes from its client URL; an unreachable member is reported so', () => {
    const members = parseMemberList(fx('member-list.json'))!;
    const health = JSON.parse(fx('endpoint-health-partial.json')) as { endpoint: string; health: boolean }[];
    expect(memberViews({ members, health }, inv).map((v) => `${v.name}:${v.health}`)).toEqual(['node1:healthy', 'node3:unreachable', 'node2:unreachable']);
  });
});

describe('etcdctl errors', () => {
  it('the Error: line of a failed promote, not its JSON log line; it is worth retrying', () => {
    const err = etcdctlError({ stdout: '', stderr: fx('promote-not-in-sync.stderr'), exitCode: 1 });
    expect(err).toBe('etcdserver: can only promote a learner member which is in sync with leader');
    expect(isTransientMembershipError(err)).toBe(true);
    expect(isTransientMembershipError('etcdserver: unhealthy cluster')).toBe(true);
    expect(isTransientMembershipError('etcdserver: too many learner members in cluster')).toBe(false);
    expect(isTransientMembershipError('etcdserver: member not found')).toBe(false);
  });

  it('learners from 3.4 on', () => {
    expect(['v3.3.27', 'v3.4.23', '3.5.21', 'v3.6.0', 'garbage'].map(supportsLearners)).toEqual([false, true, true, true, false]);
  });
});
