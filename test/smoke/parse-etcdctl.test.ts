/** etcdctl JSON parsers and verdicts, on outputs captured from etcdctl 3.4.23 (fixtures/etcdctl-3.4.23). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compareMembers,
  type ExpectedMember,
  idToHex,
  judgeHealth,
  judgeLeader,
  parseEndpointHealth,
  parseEndpointStatus,
  parseEtcdJson,
  parseMemberList,
} from '../../src/smoke/parse/etcdctl.js';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/etcdctl-3.4.23/${name}`, import.meta.url), 'utf8');

const expected: ExpectedMember[] = [1, 2, 3].map((i) => ({
  name: `node${i}`,
  clientURL: `https://127.0.1.1${i}:2379`,
  peerURL: `https://127.0.1.1${i}:2380`,
}));

describe('ids', () => {
  it('keeps 64-bit member ids exact and shows them in hex like etcd does', () => {
    const { clusterId, members } = parseMemberList(fx('members.out'));
    expect(clusterId).toBe('1177380467549055443');
    // 14652313253850375009 > 2^53: a plain JSON.parse would turn it into ...5000
    expect(members.map((m) => [m.name, m.id, m.idHex])).toEqual([
      ['node1', '5235968851410737145', '48a9e5edd358d7f9'],
      ['node3', '14652313253850375009', 'cb577945e97fe361'],
      ['node2', '16908214894348340379', 'eaa60bdce39a0c9b'],
    ]);
    expect(idToHex('not a number')).toBe('not a number');
    expect((parseEtcdJson('{"leader":18446744073709551615}') as { leader: string }).leader).toBe('18446744073709551615');
  });
});

describe('endpoint health', () => {
  it('healthy cluster: all three healthy', () => {
    const h = parseEndpointHealth(fx('health-ok.out'));
    expect(h.map((x) => x.health)).toEqual([true, true, true]);
    const v = judgeHealth(expected, h);
    expect(v).toEqual({ healthy: ['node1', 'node2', 'node3'], unhealthy: [], quorum: 2, hasQuorum: true });
  });

  it('one member stopped: degraded with quorum, naming the member and its error', () => {
    const v = judgeHealth(expected, parseEndpointHealth(fx('deg-health.out')));
    expect(v.healthy).toEqual(['node1', 'node3']);
    expect(v.unhealthy).toEqual([{ name: 'node2', endpoint: 'https://127.0.1.12:2379', error: 'context deadline exceeded' }]);
    expect(v.hasQuorum).toBe(true);
  });

  it('two members stopped: no quorum', () => {
    const v = judgeHealth(expected, parseEndpointHealth(fx('noq-health.out')));
    expect(v.healthy).toEqual([]);
    expect(v.hasQuorum).toBe(false);
  });

  it('an endpoint missing from the output counts as unhealthy', () => {
    const only = parseEndpointHealth(fx('health-ok.out')).filter((h) => !h.endpoint.includes('127.0.1.13'));
    expect(judgeHealth(expected, only).unhealthy).toEqual([{ name: 'node3', endpoint: 'https://127.0.1.13:2379', error: 'no result for this endpoint' }]);
  });

  it('the default (non-JSON) output has nothing on stdout: a clear parse error', () => {
    expect(fx('health-plain.out')).toBe('');
    expect(fx('health-plain.err')).toMatch(/is healthy: successfully committed proposal/);
    expect(() => parseEndpointHealth(fx('health-plain.out'))).toThrow(/no JSON array on stdout/);
  });
});

describe('member list', () => {
  const { members } = parseMemberList(fx('members.out'));

  it('matches the inventory', () => {
    expect(compareMembers(expected, members)).toEqual([]);
    // the member list still answers with a member down
    expect(compareMembers(expected, parseMemberList(fx('deg-members.out')).members)).toEqual([]);
  });

  it('names a missing member, an unexpected one, a wrong peer URL and a learner', () => {
    const four = [...expected, { name: 'node4', clientURL: 'https://127.0.1.14:2379', peerURL: 'https://127.0.1.14:2380' }];
    expect(compareMembers(four, members)).toEqual(['node4 (https://127.0.1.14:2380) is not a member']);
    expect(compareMembers(expected.slice(0, 2), members)).toEqual([
      'unexpected member node3 (id cb577945e97fe361, https://127.0.1.13:2380) is not in the inventory',
    ]);
    const moved = expected.map((e) => (e.name === 'node2' ? { ...e, peerURL: 'https://127.0.1.22:2380' } : e));
    expect(compareMembers(moved, members)).toEqual([
      'node2 has peer URL https://127.0.1.12:2380, the inventory says https://127.0.1.22:2380',
    ]);
    const learner = members.map((m) => (m.name === 'node3' ? { ...m, isLearner: true } : m));
    expect(compareMembers(expected, learner)).toEqual(['node3 is still a learner (not a voting member)']);
  });

  it('recognises a member that was added but never started (no name yet)', () => {
    const unstarted = members.map((m) => (m.name === 'node3' ? { ...m, name: '' } : m));
    expect(compareMembers(expected, unstarted)).toEqual(['node3 was added (id cb577945e97fe361, https://127.0.1.13:2380) but has not started yet']);
  });

  it('names a member whose name differs from the inventory at the same peer URL', () => {
    const renamed = members.map((m) => (m.name === 'node3' ? { ...m, name: 'old-node3' } : m));
    expect(compareMembers(expected, renamed)).toEqual(['the member at https://127.0.1.13:2380 is named old-node3, not node3']);
  });
});

describe('endpoint status and the leader', () => {
  const members = parseMemberList(fx('members.out')).members;

  it('healthy: one leader agreed by all endpoints', () => {
    const { statuses, failures } = parseEndpointStatus(fx('status.out'), fx('status.err'));
    expect(statuses).toHaveLength(3);
    expect(statuses[0]).toMatchObject({ endpoint: 'https://127.0.1.11:2379', memberId: '5235968851410737145', leader: '5235968851410737145', version: '3.4.23' });
    expect(failures).toEqual([]);
    expect(judgeLeader(statuses, members)).toEqual({ ok: true, leaderId: '5235968851410737145', message: 'leader node1 (term 2)' });
  });

  it('degraded: the stopped member is reported from stderr, the others still agree on the leader', () => {
    const { statuses, failures } = parseEndpointStatus(fx('deg-status.out'), fx('deg-status.err'));
    expect(statuses.map((s) => s.endpoint)).toEqual(['https://127.0.1.11:2379', 'https://127.0.1.13:2379']);
    expect(failures).toEqual([{ endpoint: 'https://127.0.1.12:2379', error: 'context deadline exceeded' }]);
    expect(judgeLeader(statuses, members).ok).toBe(true);
  });

  it('no quorum: the remaining member sees no leader and says why', () => {
    const { statuses, failures } = parseEndpointStatus(fx('noq-status.out'), fx('noq-status.err'));
    expect(failures.map((f) => f.endpoint)).toEqual(['https://127.0.1.12:2379', 'https://127.0.1.13:2379']);
    expect(statuses[0]!.leader).toBeNull();
    expect(judgeLeader(statuses, members)).toEqual({ ok: false, leaderId: null, message: 'no leader seen by https://127.0.1.11:2379 (etcdserver: no leader)' });
  });

  it('disagreeing endpoints and an unknown leader fail', () => {
    const { statuses } = parseEndpointStatus(fx('status.out'));
    const split = statuses.map((s, i) => (i === 2 ? { ...s, leader: '14652313253850375009' } : s));
    expect(judgeLeader(split, members)).toMatchObject({ ok: false, message: 'endpoints disagree on the leader: node1, node3' });
    expect(judgeLeader(statuses, members.filter((m) => m.name !== 'node1'))).toMatchObject({ ok: false, message: 'the leader 48a9e5edd358d7f9 is not in the member list' });
    expect(judgeLeader([], members)).toMatchObject({ ok: false, message: 'no endpoint answered' });
  });
});
