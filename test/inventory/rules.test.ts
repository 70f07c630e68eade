/** checkRules on parsed inventories: each rule fires on its mistake and stays quiet otherwise. */
import { describe, expect, it } from 'vitest';
import { checkRules, type RuleIssue } from '../../src/inventory/rules.js';
import { Inventory, type InventoryInput } from '../../src/inventory/schema.js';
import { formatPath } from '../../src/inventory/errors.js';

const base = (): InventoryInput => ({
  cluster: { name: 't' },
  endpoint: { vip: '192.168.1.10' },
  hosts: [
    { name: 'a', address: '192.168.1.11', roles: ['etcd', 'server'] },
    { name: 'b', address: '192.168.1.12', roles: ['etcd', 'server'] },
    { name: 'c', address: '192.168.1.13', roles: ['etcd', 'server'] },
  ],
});

function rules(mutate: (i: InventoryInput) => void = () => {}): Array<RuleIssue & { where: string }> {
  const input = base();
  mutate(input);
  return checkRules(Inventory.parse(input)).map((r) => ({ ...r, where: formatPath(r.path) }));
}

describe('checkRules', () => {
  it('a consistent inventory has no problems', () => {
    expect(rules()).toEqual([]);
  });

  it('duplicate names and addresses name both hosts', () => {
    const r = rules((i) => {
      i.hosts.push({ name: 'a', address: '192.168.1.12', roles: ['agent'] });
    });
    expect(r.map((x) => `${x.where}: ${x.message}`)).toEqual([
      'hosts[3].name: duplicate host name "a" (also hosts[0])',
      'hosts[3].address: duplicate address 192.168.1.12 (also hosts[1])',
    ]);
  });

  it('etcd parity: 1, 3 and 5 pass, 2 and 4 fail unless allowed', () => {
    const withEtcd = (n: number, allow = false) =>
      rules((i) => {
        i.hosts = Array.from({ length: 5 }, (_, k) => ({
          name: `h${k}`,
          address: `192.168.1.${20 + k}`,
          roles: k < n ? ['etcd', 'server'] : ['agent'],
        }));
        if (allow) i.etcd = { allowEvenMembers: true };
      });
    expect(withEtcd(1)).toEqual([]);
    expect(withEtcd(3)).toEqual([]);
    expect(withEtcd(5)).toEqual([]);
    expect(withEtcd(2)[0]!.message).toBe('2 etcd members is an even number');
    const four = withEtcd(4)[0]!;
    expect(four.hint).toContain('3 members tolerate 1 failure and 4 still tolerate only 1');
    expect(four.hint).toContain('use 3 or 5');
    expect(withEtcd(4, true)).toEqual([]);
  });

  it('roles: no server, no etcd, agent with server, duplicates', () => {
    expect(rules((i) => (i.hosts = [{ name: 'a', address: '192.168.1.11', roles: ['etcd'] }])).map((x) => x.message)).toEqual([
      'no host has the server role',
    ]);
    expect(rules((i) => (i.hosts = [{ name: 'a', address: '192.168.1.11', roles: ['server'] }])).map((x) => x.message)).toEqual([
      'no host has the etcd role',
    ]);
    const both = rules((i) => (i.hosts[0]!.roles = ['etcd', 'server', 'agent']));
    expect(both.map((x) => x.where)).toEqual(['hosts[0].roles']);
    const dup = rules((i) => (i.hosts[0]!.roles = ['etcd', 'server', 'etcd']));
    expect(dup.map((x) => `${x.where}: ${x.message}`)).toEqual(['hosts[0].roles[2]: role "etcd" is listed twice']);
    // an etcd-only host and an etcd+agent host are fine
    expect(rules((i) => i.hosts.push({ name: 'd', address: '192.168.1.14', roles: ['agent'] }))).toEqual([]);
  });

  it('CIDRs: overlap, host inside, host bits, too large, node subnets', () => {
    expect(rules((i) => (i.network = { podCidr: '10.42.0.0/16', serviceCidr: '10.42.128.0/17' }))[0]!.message).toBe(
      'service CIDR 10.42.128.0/17 overlaps the pod CIDR 10.42.0.0/16',
    );
    const inside = rules((i) => (i.network = { podCidr: '192.168.0.0/16' }));
    expect(inside.filter((x) => x.message.includes('inside the pod CIDR')).map((x) => x.where).sort()).toEqual([
      'endpoint.vip',
      'hosts[0].address',
      'hosts[1].address',
      'hosts[2].address',
    ]);
    expect(rules((i) => (i.network = { serviceCidr: '10.43.0.1/16' }))[0]!.hint).toBe('write the network address: 10.43.0.0/16');
    expect(rules((i) => (i.network = { serviceCidr: '10.0.0.0/11', podCidr: '172.16.0.0/16', clusterDns: '10.0.0.10' }))[0]!.message).toBe(
      'service CIDR 10.0.0.0/11 is too large',
    );
    expect(rules((i) => (i.network = { podCidr: '10.42.0.0/20', nodeCidrMaskSize: 16 }))[0]!.where).toBe('network.nodeCidrMaskSize');
    expect(rules((i) => (i.network = { podCidr: '10.42.0.0/24', nodeCidrMaskSize: 26 }))).toEqual([]); // 4 subnets, 3 nodes
  });

  it('cluster DNS: outside, reserved, default too small', () => {
    expect(rules((i) => (i.network = { clusterDns: '10.44.0.10' }))[0]!.message).toBe('cluster DNS 10.44.0.10 is outside the service CIDR 10.43.0.0/16');
    expect(rules((i) => (i.network = { clusterDns: '10.43.0.1' }))[0]!.message).toContain('reserved address');
    expect(rules((i) => (i.network = { clusterDns: '10.43.0.53' }))).toEqual([]);
    expect(rules((i) => (i.network = { serviceCidr: '10.43.0.0/29' }))[0]!.message).toContain('too small to hold the default cluster DNS');
  });

  it('VIP: required, not a host, not with mode none, inside the servers subnet or endpoint.subnet', () => {
    expect(rules((i) => (i.endpoint = {}))[0]!.message).toBe('endpoint.vip is required when endpoint mode is keepalived');
    expect(rules((i) => (i.endpoint = { mode: 'kube-vip' }))[0]!.message).toBe('endpoint.vip is required when endpoint mode is kube-vip');
    expect(rules((i) => (i.endpoint = { mode: 'none' }))).toEqual([]);
    expect(rules((i) => (i.endpoint = { mode: 'none', vip: '192.168.1.10' }))[0]!.message).toBe('a vip is set but endpoint mode is none');
    expect(rules((i) => (i.endpoint = { vip: '192.168.1.13' }))[0]!.message).toBe('vip 192.168.1.13 is the address of host "c"');
    expect(rules((i) => (i.endpoint = { vip: '192.168.7.10' }))[0]!.message).toBe("vip 192.168.7.10 is not in the servers' subnet 192.168.1.0/24");
    // a wider LAN declared with endpoint.subnet
    expect(rules((i) => (i.endpoint = { vip: '192.168.7.10', subnet: '192.168.0.0/16' }))).toEqual([]);
    expect(rules((i) => (i.endpoint = { vip: '10.1.1.1', subnet: '192.168.0.0/16' })).map((x) => x.message)).toEqual([
      'vip 10.1.1.1 is outside endpoint.subnet 192.168.0.0/16',
    ]);
    expect(rules((i) => (i.endpoint = { vip: '192.168.1.10', subnet: '192.168.1.0/28' })).map((x) => x.where)).toEqual([]);
    expect(rules((i) => (i.endpoint = { vip: '192.168.1.10', subnet: '192.168.1.0/29' })).map((x) => x.where)).toEqual([
      'endpoint.vip',
      'hosts[0].address',
      'hosts[1].address',
      'hosts[2].address',
    ]);
    // servers spread over several /24s: the subnet cannot be told, so no guess
    expect(
      rules((i) => {
        i.hosts[2]!.address = '192.168.2.13';
        i.endpoint = { vip: '192.168.9.10' };
      }),
    ).toEqual([]);
    expect(rules((i) => (i.endpoint = { vip: '239.1.1.1' }))[0]!.message).toBe('vip 239.1.1.1 is a multicast address (224.0.0.0/4)');
  });

  it('labels: kubernetes.io / k8s.io namespaces refused except the kubelet-allowed ones', () => {
    const withLabel = (key: string) => rules((i) => (i.hosts[0]!.labels = { [key]: 'x' }));
    for (const bad of ['kubernetes.io/role', 'node-role.kubernetes.io/worker', 'k8s.io/x', 'foo.k8s.io/y']) {
      const r = withLabel(bad);
      expect(r, bad).toHaveLength(1);
      expect(r[0]!.at).toBe('key');
      expect(r[0]!.where).toBe(`hosts[0].labels[${JSON.stringify(bad)}]`);
    }
    for (const ok of ['topology.kubernetes.io/zone', 'node.kubernetes.io/exclude-from-external-load-balancers', 'example.com/kubernetes.io', 'rack']) {
      expect(withLabel(ok), ok).toEqual([]);
    }
  });

  it('artifacts: offline needs dir, dir needs offline, mirror only upstream, no credentials', () => {
    expect(rules((i) => (i.artifacts = { source: 'offline' }))[0]!.where).toBe('artifacts.dir');
    expect(rules((i) => (i.artifacts = { source: 'offline', dir: './a' }))).toEqual([]);
    expect(rules((i) => (i.artifacts = { dir: './a' }))[0]!.message).toBe('artifacts.dir is set but artifacts.source is upstream');
    expect(rules((i) => (i.artifacts = { source: 'offline', dir: './a', mirrorUrl: 'http://m.lan/' }))[0]!.where).toBe('artifacts.mirrorUrl');
    expect(rules((i) => (i.artifacts = { mirrorUrl: 'https://u:p@m.lan/' }))[0]!.message).toBe('mirrorUrl must not contain a user name or password');
    expect(rules((i) => (i.artifacts = { mirrorUrl: 'https://m.lan:8443/kubi' }))).toEqual([]);
  });

  it('etcd: election timeout at least 5 heartbeats; a usable data dir', () => {
    expect(rules((i) => (i.etcd = { heartbeatIntervalMs: 200, electionTimeoutMs: 999 }))[0]!.hint).toContain('at least 1000');
    expect(rules((i) => (i.etcd = { heartbeatIntervalMs: 200, electionTimeoutMs: 1000 }))).toEqual([]);
    expect(rules((i) => (i.etcd = { dataDir: '/' }))[0]!.where).toBe('etcd.dataDir');
    expect(rules((i) => (i.etcd = { dataDir: '/var/lib/../etc' }))[0]!.where).toBe('etcd.dataDir');
  });

  it('host addresses that cannot be hosts', () => {
    expect(rules((i) => i.hosts.push({ name: 'x', address: '0.0.0.0', roles: ['agent'] }))[0]!.message).toContain('unspecified');
    expect(rules((i) => i.hosts.push({ name: 'x', address: '255.255.255.255', roles: ['agent'] }))[0]!.message).toContain('broadcast');
  });

  it('jump host ports are in range', () => {
    expect(rules((i) => (i.ssh = { jumpHost: 'bastion:70000' }))[0]!.where).toBe('ssh.jumpHost');
    expect(rules((i) => (i.hosts[1]!.ssh = { jumpHost: 'me@bastion:0' }))[0]!.where).toBe('hosts[1].ssh.jumpHost');
    expect(rules((i) => (i.ssh = { jumpHost: 'me@bastion:2222' }))).toEqual([]);
  });

  it('runs on partial input: rules skip what they cannot know', () => {
    expect(checkRules({})).toEqual([]);
    // one host's roles unknown: no counting rules
    expect(checkRules({ hosts: [{ name: 'a', roles: ['etcd'] }, undefined] })).toEqual([]);
    expect(checkRules({ hosts: [{ name: 'a', roles: ['etcd'] }] }).map((r) => r.message)).toEqual(['no host has the server role']);
  });
});
