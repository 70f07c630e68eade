import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  K3S_PATHS,
  K3S_UNIT_PATHS,
  buildK3sAgentContext,
  buildK3sServerContext,
  k3sAgentFiles,
  k3sServerFiles,
  renderK3sAgentConfig,
  renderK3sServerConfig,
  renderK3sUnit,
} from '../../src/render/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { KubiError } from '../../src/errors.js';
import { host, sampleInventory } from './helpers/sample.js';
import { k3sFlags, type K3sFlag } from './helpers/shared-data.js';
import { parseUnit, splitExec, values } from './helpers/unit-file.js';

type Config = Record<string, unknown>;

const serverNames = ['node1', 'node2', 'node3'];
const agentNames = ['node4', 'node5'];

const variants: Record<string, Inventory> = {
  'bridge + keepalived': sampleInventory(),
  'flannel + kube-vip, port 7443, no secrets encryption': sampleInventory({
    network: { cni: 'flannel', podCidr: '10.244.0.0/16', nodeCidrMaskSize: 25, clusterDns: '10.43.0.53' },
    endpoint: { mode: 'kube-vip', vip: '10.77.0.100', port: 7443 },
    k3s: { secretsEncryption: false },
  }),
  'bridge + no endpoint': sampleInventory({ endpoint: { mode: 'none' } }),
};

function serverConfig(inv: Inventory, name: string): Config {
  return parse(renderK3sServerConfig(buildK3sServerContext(inv, host(inv, name)))) as Config;
}
function agentConfig(inv: Inventory, name: string): Config {
  return parse(renderK3sAgentConfig(buildK3sAgentContext(inv, host(inv, name), { serverAddress: '10.77.0.12' }))) as Config;
}

/** Checks every key against the flag table of one k3s command: known (by name or alias), allowed in config.yaml, and of the flag's YAML type. */
function contractViolations(config: Config, flags: K3sFlag[]): string[] {
  const byName = new Map<string, K3sFlag>();
  for (const f of flags) for (const n of [f.name, ...f.aliases]) byName.set(n, f);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const flag = byName.get(key);
    if (!flag) {
      problems.push(`${key}: not a flag of this command`);
      continue;
    }
    if (!flag.config_yaml_key) problems.push(`${key}: not allowed in config.yaml`);
    const ok =
      flag.type === 'stringSlice'
        ? Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')
        : flag.type === 'bool'
          ? typeof value === 'boolean'
          : flag.type === 'int'
            ? Number.isInteger(value)
            : typeof value === 'string';
    if (!ok) problems.push(`${key}: ${JSON.stringify(value)} is not a ${flag.type === 'stringSlice' ? 'YAML list of strings' : flag.type}`);
  }
  return problems;
}

describe('k3s contract: rendered config.yaml keys against ../shared/data/k3s-flags.json', () => {
  const table = k3sFlags();

  it('the contract check finds unknown keys, server-only keys on agents, and scalars for list flags (control)', () => {
    expect(contractViolations({ 'no-such-flag': true }, table.server)).toEqual(['no-such-flag: not a flag of this command']);
    expect(contractViolations({ 'datastore-endpoint': 'https://x:2379' }, table.agent)).toHaveLength(1);
    expect(contractViolations({ 'node-label': 'a=b' }, table.agent)).toEqual(['node-label: "a=b" is not a YAML list of strings']);
    expect(contractViolations({ 'secrets-encryption': 'true' }, table.server)).toHaveLength(1);
  });

  describe.each(Object.entries(variants))('%s', (_label, inv) => {
    it.each(serverNames)('server %s: every key is a `k3s server` flag of the right type', (name) => {
      const config = serverConfig(inv, name);
      expect(Object.keys(config).length).toBeGreaterThan(10);
      expect(contractViolations(config, table.server)).toEqual([]);
    });

    it.each(agentNames)('agent %s: every key is a `k3s agent` flag of the right type (no server-only key)', (name) => {
      const config = agentConfig(inv, name);
      expect(contractViolations(config, table.agent)).toEqual([]);
    });

    it('critical values (k3s refuses servers that differ) are identical on every server', () => {
      const configs = serverNames.map((n) => serverConfig(inv, n));
      const critical = table.critical_server_values_must_match.keys;
      expect(critical).toContain('cluster-cidr');
      for (const key of critical) {
        const [flag, item] = key.split('=') as [string, string | undefined];
        const seen = configs.map((c) => {
          const v = c[flag];
          return JSON.stringify(item === undefined ? v : Array.isArray(v) && v.includes(item));
        });
        expect(new Set(seen).size, `${key} differs: ${seen.join(' / ')}`).toBe(1);
      }
      // and the other values every server must share
      for (const key of ['datastore-endpoint', 'tls-san', 'kube-controller-manager-arg', 'https-listen-port']) {
        expect(new Set(configs.map((c) => JSON.stringify(c[key]))).size, key).toBe(1);
      }
    });
  });
});

describe('k3s server config', () => {
  const inv = sampleInventory();
  const config = serverConfig(inv, 'node2');

  it('uses the external etcd over TLS with the client certificate files', () => {
    expect(config['datastore-endpoint']).toBe('https://10.77.0.11:2379,https://10.77.0.12:2379,https://10.77.0.13:2379');
    expect(config['datastore-cafile']).toBe('/etc/rancher/k3s/etcd/ca.crt');
    expect(config['datastore-certfile']).toBe('/etc/rancher/k3s/etcd/client.crt');
    expect(config['datastore-keyfile']).toBe('/etc/rancher/k3s/etcd/client.key');
    expect(config['cluster-init']).toBeUndefined();
  });

  it('reads the token from a file and never contains a token', () => {
    expect(config['token-file']).toBe(K3S_PATHS.token);
    for (const key of ['token', 't', 'agent-token']) expect(config[key]).toBeUndefined();
  });

  it('uses the external containerd with the systemd cgroup driver', () => {
    expect(config['container-runtime-endpoint']).toBe('unix:///run/containerd/containerd.sock');
    expect(config['kubelet-arg']).toEqual(['cgroup-driver=systemd']);
  });

  it('in bridge mode turns flannel and the network policy controller off, but keeps kube-proxy', () => {
    expect(config['flannel-backend']).toBe('none');
    expect(config['disable-network-policy']).toBe(true);
    expect(config['disable-kube-proxy']).toBeUndefined();
    const flannel = serverConfig(variants['flannel + kube-vip, port 7443, no secrets encryption']!, 'node2');
    expect(flannel['flannel-backend']).toBe('vxlan');
    expect(flannel['disable-network-policy']).toBeUndefined();
  });

  it('names the node, its address, the network, the SANs, and the kubeconfig mode as a string', () => {
    expect(config['node-name']).toBe('node2');
    expect(config['node-ip']).toEqual(['10.77.0.12']);
    expect(config['cluster-cidr']).toEqual(['10.42.0.0/16']);
    expect(config['service-cidr']).toEqual(['10.43.0.0/16']);
    expect(config['cluster-dns']).toEqual(['10.43.0.10']);
    expect(config['kube-controller-manager-arg']).toEqual(['node-cidr-mask-size-ipv4=24']);
    expect(config['tls-san']).toEqual(['10.77.0.100', 'node1', '10.77.0.11', 'node2', '10.77.0.12', 'node3', '10.77.0.13']);
    expect(config['secrets-encryption']).toBe(true);
    expect(config['write-kubeconfig-mode']).toBe('0600');
    expect(config['https-listen-port']).toBeUndefined();
    const other = serverConfig(variants['flannel + kube-vip, port 7443, no secrets encryption']!, 'node1');
    expect(other['https-listen-port']).toBe(7443);
    expect(other['cluster-dns']).toEqual(['10.43.0.53']);
    expect(other['kube-controller-manager-arg']).toEqual(['node-cidr-mask-size-ipv4=25']);
    expect(other['secrets-encryption']).toBe(false);
    expect(serverConfig(variants['bridge + no endpoint']!, 'node1')['tls-san']).toEqual(['node1', '10.77.0.11', 'node2', '10.77.0.12', 'node3', '10.77.0.13']);
  });

  it('writes labels sorted and taints as lists, and only when there are some', () => {
    expect(serverConfig(inv, 'node1')['node-label']).toEqual(['example.com/zone=a']);
    expect(serverConfig(inv, 'node3')['node-taint']).toEqual(['dedicated=infra:NoSchedule']);
    expect(config['node-label']).toBeUndefined();
    expect(config['node-taint']).toBeUndefined();
  });

  it('adds extra kubelet and kube-proxy arguments when asked (e.g. for LXC)', () => {
    const c = parse(renderK3sServerConfig(buildK3sServerContext(inv, host(inv, 'node1'), { extraKubeletArgs: ['max-pods=50'], extraKubeProxyArgs: ['conntrack-max-per-core=0'] }))) as Config;
    expect(c['kubelet-arg']).toEqual(['cgroup-driver=systemd', 'max-pods=50']);
    expect(c['kube-proxy-arg']).toEqual(['conntrack-max-per-core=0']);
  });

  it('refuses agents, node labels a node may not set itself, and inventories without etcd', () => {
    expect(() => buildK3sServerContext(inv, host(inv, 'node4'))).toThrow(KubiError);
    const reserved = sampleInventory({ hosts: [{ name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'], labels: { 'node-role.kubernetes.io/worker': 'true' } }] });
    expect(() => buildK3sServerContext(reserved, host(reserved, 'node1'))).toThrow(/reserved/);
    const allowed = sampleInventory({ hosts: [{ name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'], labels: { 'node.kubernetes.io/instance-type': 'pi4', 'topology.kubernetes.io/zone': 'shelf' } }] });
    expect(serverConfig(allowed, 'node1')['node-label']).toEqual(['node.kubernetes.io/instance-type=pi4', 'topology.kubernetes.io/zone=shelf']);
    const noEtcd = sampleInventory({ hosts: [{ name: 'node1', address: '10.77.0.11', roles: ['server'] }] });
    expect(() => buildK3sServerContext(noEtcd, host(noEtcd, 'node1'))).toThrow(/no etcd member/);
  });
});

describe('k3s agent config', () => {
  it('registers through the VIP, with agent keys only', () => {
    const inv = sampleInventory();
    const c = parse(renderK3sAgentConfig(buildK3sAgentContext(inv, host(inv, 'node4')))) as Config;
    expect(c).toEqual({
      server: 'https://10.77.0.100:6443',
      'token-file': '/etc/rancher/k3s/token',
      'node-name': 'node4',
      'node-ip': ['10.77.0.14'],
      'container-runtime-endpoint': 'unix:///run/containerd/containerd.sock',
      'node-label': ['example.com/disk=ssd', 'example.com/zone=b'],
      'kubelet-arg': ['cgroup-driver=systemd'],
    });
  });

  it('without a VIP, registers with the server address it is given, and needs one', () => {
    const inv = variants['bridge + no endpoint']!;
    expect(agentConfig(inv, 'node5').server).toBe('https://10.77.0.12:6443');
    expect(() => buildK3sAgentContext(inv, host(inv, 'node5'))).toThrow(/needs the address of a healthy server/);
    expect(() => buildK3sAgentContext(inv, host(inv, 'node5'), { serverAddress: 'server.example' })).toThrow(KubiError);
  });

  it('refuses servers (a server runs its agent itself)', () => {
    const inv = sampleInventory();
    expect(() => buildK3sAgentContext(inv, host(inv, 'node1'))).toThrow(/not an agent-only host/);
  });
});

describe('k3s units', () => {
  it.each([
    ['server', 'k3s.service'],
    ['agent', 'k3s-agent.service'],
  ] as const)('%s unit has the install script\'s settings and needs containerd', (kind, unitName) => {
    const u = parseUnit(renderK3sUnit(kind));
    const expected: [string, string][] = [
      ['Type', 'notify'],
      ['KillMode', 'process'],
      ['Delegate', 'yes'],
      ['LimitNOFILE', '1048576'],
      ['LimitNPROC', 'infinity'],
      ['LimitCORE', 'infinity'],
      ['TasksMax', 'infinity'],
      ['TimeoutStartSec', '0'],
      ['Restart', 'always'],
      ['RestartSec', '5s'],
    ];
    for (const [k, v] of expected) expect(values(u, 'Service', k), k).toEqual([v]);
    expect(values(u, 'Service', 'ExecStartPre')).toEqual(['-/sbin/modprobe br_netfilter', '-/sbin/modprobe overlay']);
    expect(values(u, 'Service', 'ExecStart').map(splitExec)).toEqual([['/usr/local/bin/k3s', kind]]);
    expect(values(u, 'Service', 'EnvironmentFile')).toContain(`-/etc/systemd/system/${unitName}.env`);
    expect(values(u, 'Unit', 'After')).toEqual(['network-online.target containerd.service']);
    expect(values(u, 'Unit', 'Wants')).toEqual(['network-online.target containerd.service']);
    expect(values(u, 'Unit', 'Requires')).toEqual(['containerd.service']);
    expect(values(u, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
  });

  it('ships config (0600) and unit per role', () => {
    const inv = sampleInventory();
    expect(k3sServerFiles(inv, host(inv, 'node1')).map((f) => [f.path, f.mode])).toEqual([
      [K3S_PATHS.config, 0o600],
      [K3S_UNIT_PATHS.server, 0o644],
    ]);
    expect(k3sAgentFiles(inv, host(inv, 'node4')).map((f) => [f.path, f.mode])).toEqual([
      [K3S_PATHS.config, 0o600],
      [K3S_UNIT_PATHS.agent, 0o644],
    ]);
  });
});
