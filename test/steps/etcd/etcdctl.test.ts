import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  etcdctlArgv,
  memberDifferences,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
  toHexId,
} from '../../../src/steps/etcd/etcdctl.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** captured outputs: the first line names what was captured */
const fixture = (name: string) => readFileSync(path.join(dir, name), 'utf8').split('\n').slice(1).join('\n');

describe('etcdctl output parsers (captured from etcdctl 3.4.23)', () => {
  it('endpoint health --cluster -w json: all healthy', () => {
    expect(parseEndpointHealth(fixture('etcdctl-3.4-health-healthy.txt'))).toEqual([
      { endpoint: 'http://127.0.0.1:21379', health: true },
      { endpoint: 'http://127.0.0.1:22379', health: true },
      { endpoint: 'http://127.0.0.1:23379', health: true },
    ]);
  });

  it('endpoint health: one member down carries its error', () => {
    const h = parseEndpointHealth(fixture('etcdctl-3.4-health-one-down.txt'));
    expect(h.find((e) => e.endpoint.endsWith(':23379'))).toEqual({ endpoint: 'http://127.0.0.1:23379', health: false, error: 'context deadline exceeded' });
    expect(h.filter((e) => e.health)).toHaveLength(2);
  });

  it('endpoint health: stderr only (the local member is down) parses as nothing', () => {
    expect(parseEndpointHealth(fixture('etcdctl-3.4-health-one-down.stderr.txt'))).toEqual([]);
  });

  it('member list -w json keeps uint64 ids exact (as the hex etcdctl prints)', () => {
    const m = parseMemberList(fixture('etcdctl-3.4-member-list.txt'))!;
    // `etcdctl member list` (simple) printed these hex ids for the same cluster
    expect(m.map((x) => [x.name, x.id])).toEqual([
      ['node3', '331bc15576770daa'],
      ['node1', '5b1f2a72c37eab2d'],
      ['node2', '819450a5536d704f'],
    ]);
    expect(m[1]).toEqual({ id: '5b1f2a72c37eab2d', name: 'node1', peerURLs: ['http://127.0.0.1:21380'], clientURLs: ['http://127.0.0.1:21379'], isLearner: false });
    expect(toHexId('9337176598445387855')).toBe('819450a5536d704f');
  });

  it('endpoint status -w json: member and leader ids', () => {
    const s = parseEndpointStatus(fixture('etcdctl-3.4-endpoint-status.txt'));
    expect(s.map((x) => [x.endpoint, x.memberId, x.leaderId, x.version])).toEqual([
      ['http://127.0.0.1:23379', '331bc15576770daa', '819450a5536d704f', '3.4.23'],
      ['http://127.0.0.1:21379', '5b1f2a72c37eab2d', '819450a5536d704f', '3.4.23'],
      ['http://127.0.0.1:22379', '819450a5536d704f', '819450a5536d704f', '3.4.23'],
    ]);
  });

  it('garbage parses as nothing, never throws', () => {
    expect(parseMemberList('Error: context deadline exceeded')).toBeNull();
    expect(parseEndpointHealth('[{"endpoint": broken')).toEqual([]);
  });
});

describe('memberDifferences', () => {
  const expected = [
    { name: 'node1', peerURL: 'https://10.77.0.11:2380' },
    { name: 'node2', peerURL: 'https://10.77.0.12:2380' },
  ];
  const member = (name: string, peer: string) => ({ id: '1', name, peerURLs: [peer], clientURLs: [], isLearner: false });

  it('matches names and peer URLs exactly', () => {
    expect(memberDifferences(expected, [member('node2', 'https://10.77.0.12:2380'), member('node1', 'https://10.77.0.11:2380')])).toEqual([]);
  });

  it('names every difference', () => {
    expect(
      memberDifferences(expected, [
        member('node1', 'https://10.77.0.99:2380'),
        member('', 'https://10.77.0.12:2380'),
        member('old', 'https://10.77.0.13:2380'),
      ]),
    ).toEqual(['node1 has peer URLs https://10.77.0.99:2380, expected https://10.77.0.11:2380', 'node2 was added but has not started', 'unexpected member old https://10.77.0.13:2380']);
  });
});

describe('etcdctlArgv', () => {
  it('passes TLS flags and endpoints explicitly and removes ETCDCTL_ENDPOINTS from the environment', () => {
    const argv = etcdctlArgv(['endpoint', 'health', '--cluster', '-w', 'json']);
    expect(argv.slice(0, 5)).toEqual(['env', '-u', 'ETCDCTL_ENDPOINTS', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl']);
    expect(argv).toContain('--endpoints=https://127.0.0.1:2379');
    expect(argv).toContain('--cacert=/etc/etcd/pki/ca.crt');
    expect(argv).toContain('--cert=/etc/etcd/pki/admin.crt');
    expect(argv).toContain('--key=/etc/etcd/pki/admin.key');
    expect(argv.slice(-5)).toEqual(['endpoint', 'health', '--cluster', '-w', 'json']);
  });
});
