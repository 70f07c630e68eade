import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ENDPOINT_PATHS,
  buildKeepalivedContext,
  buildKubeVipContext,
  endpointFiles,
  renderCheckApiserverScript,
  renderKeepalivedConf,
  renderKubeVipManifest,
} from '../../src/render/index.js';
import { KubiError } from '../../src/errors.js';
import { host, sampleInventory } from './helpers/sample.js';
import { find, findAll, parseKeepalived, type Statement } from './helpers/keepalived-conf.js';

const inv = sampleInventory({ endpoint: { mode: 'keepalived', vip: '10.77.0.100', virtualRouterId: 77 } });
const hostOpts = { interface: 'eth0', prefixLength: 24 };

function instance(name: string, opts: { authPass?: string } = {}): Statement[] {
  const conf = parseKeepalived(renderKeepalivedConf(buildKeepalivedContext(inv, host(inv, name), { ...hostOpts, ...opts })));
  const instances = findAll(conf, 'vrrp_instance');
  expect(instances).toHaveLength(1);
  return instances[0]!.block!;
}
const words = (block: Statement[], key: string): string[] => find(block, key)?.words.slice(1) ?? [];
const blockWords = (block: Statement[], key: string): string[][] => (find(block, key)?.block ?? []).map((s) => s.words);

describe('keepalived.conf', () => {
  it('peers over unicast with exactly the other servers, from its own address', () => {
    for (const name of ['node1', 'node2', 'node3']) {
      const vi = instance(name);
      const self = host(inv, name).address;
      const others = ['10.77.0.11', '10.77.0.12', '10.77.0.13'].filter((a) => a !== self);
      expect(words(vi, 'unicast_src_ip')).toEqual([self]);
      expect(blockWords(vi, 'unicast_peer').map((w) => w[0]).sort()).toEqual(others);
    }
  });

  it('holds the VIP with its prefix on the interface, with the inventory\'s router id and priorities by server order', () => {
    const vi = instance('node1');
    expect(blockWords(vi, 'virtual_ipaddress')).toEqual([['10.77.0.100/24', 'dev', 'eth0']]);
    expect(words(vi, 'interface')).toEqual(['eth0']);
    expect(words(vi, 'virtual_router_id')).toEqual(['77']);
    expect(words(vi, 'state')).toEqual(['BACKUP']);
    const priorities = ['node1', 'node2', 'node3'].map((n) => Number(words(instance(n), 'priority')[0]));
    expect(priorities).toEqual([...priorities].sort((a, b) => b - a));
    expect(new Set(priorities).size).toBe(3);
    expect(priorities.every((p) => p >= 1 && p <= 254)).toBe(true);
  });

  it('tracks a health check script run as root with script security on', () => {
    const conf = parseKeepalived(renderKeepalivedConf(buildKeepalivedContext(inv, host(inv, 'node2'), hostOpts)));
    const global = find(conf, 'global_defs')!.block!;
    expect(find(global, 'enable_script_security')).toBeDefined();
    expect(words(global, 'script_user')).toEqual(['root']);
    const script = find(conf, 'vrrp_script', 'chk_apiserver')!.block!;
    expect(words(script, 'script')).toEqual([`"${ENDPOINT_PATHS.checkScript}"`]);
    expect(Number(words(script, 'fall')[0])).toBeGreaterThan(1);
    expect(blockWords(instance('node2'), 'track_script')).toEqual([['chk_apiserver']]);
  });

  it('adds PASS authentication only when a password is given, and marks the file secret then', () => {
    expect(find(instance('node1'), 'authentication')).toBeUndefined();
    expect(blockWords(instance('node1', { authPass: 'k8sVrrp1' }), 'authentication')).toEqual([
      ['auth_type', 'PASS'],
      ['auth_pass', 'k8sVrrp1'],
    ]);
    expect(() => instance('node1', { authPass: 'far too long' })).toThrow(KubiError);
    const files = endpointFiles(inv, host(inv, 'node1'), { ...hostOpts, authPass: 'k8sVrrp1' });
    expect(files.find((f) => f.path === ENDPOINT_PATHS.keepalivedConf)).toMatchObject({ mode: 0o600, secret: true });
    expect(endpointFiles(inv, host(inv, 'node1'), hostOpts).find((f) => f.path === ENDPOINT_PATHS.keepalivedConf)!.secret).toBeUndefined();
  });

  it('takes the interface from the inventory first, else from the options, else fails', () => {
    const withIface = sampleInventory({ endpoint: { mode: 'keepalived', vip: '10.77.0.100', interface: 'bond0' } });
    expect(buildKeepalivedContext(withIface, host(withIface, 'node1'), hostOpts).interface).toBe('bond0');
    expect(() => buildKeepalivedContext(inv, host(inv, 'node1'), { prefixLength: 24 })).toThrow(/no interface/);
  });

  it('is only for servers in keepalived mode', () => {
    expect(() => buildKeepalivedContext(inv, host(inv, 'node4'), hostOpts)).toThrow(/no server role/);
    const kv = sampleInventory({ endpoint: { mode: 'kube-vip', vip: '10.77.0.100' } });
    expect(() => buildKeepalivedContext(kv, host(kv, 'node1'), hostOpts)).toThrow(/only used with endpoint.mode: keepalived/);
    expect(endpointFiles(sampleInventory({ endpoint: { mode: 'none' } }), host(inv, 'node1'), hostOpts)).toEqual([]);
  });

  it('checks the local API server /readyz with k3s\'s admin client certificate', () => {
    const script = renderCheckApiserverScript(inv);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('URL=https://127.0.0.1:6443/readyz');
    expect(script).toContain('CERT=/var/lib/rancher/k3s/server/tls/client-admin.crt');
    expect(renderCheckApiserverScript(sampleInventory({ endpoint: { mode: 'keepalived', vip: '10.77.0.100', port: 7443 } }))).toContain('127.0.0.1:7443/readyz');
  });
});

describe('kube-vip static pod', () => {
  const kv = sampleInventory({ endpoint: { mode: 'kube-vip', vip: '10.77.0.100' } });

  it('is an ARP-mode pod on the host network with NET_ADMIN/NET_RAW and k3s\'s kubeconfig', () => {
    const pod = parse(renderKubeVipManifest(buildKubeVipContext(kv, host(kv, 'node1'), { ...hostOpts, image: 'registry.local/kube-vip:v1.0.4' }))) as any;
    expect(pod.kind).toBe('Pod');
    expect(pod.metadata).toMatchObject({ name: 'kube-vip', namespace: 'kube-system' });
    expect(pod.spec.hostNetwork).toBe(true);
    const c = pod.spec.containers[0];
    expect(c.image).toBe('registry.local/kube-vip:v1.0.4');
    expect(c.args).toEqual(['manager']);
    expect(c.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    const env = Object.fromEntries((c.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      vip_arp: 'true',
      address: '10.77.0.100',
      port: '6443',
      vip_interface: 'eth0',
      cp_enable: 'true',
      vip_leaderelection: 'true',
      k8s_config_file: '/etc/rancher/k3s/k3s.yaml',
    });
    for (const e of c.env) expect(typeof (e.value ?? ''), e.name).toBe('string');
    expect(c.env.find((e: { name: string }) => e.name === 'vip_nodename').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    expect(c.volumeMounts).toEqual([{ name: 'kubeconfig', mountPath: '/etc/rancher/k3s/k3s.yaml', readOnly: true }]);
    expect(pod.spec.volumes).toEqual([{ name: 'kubeconfig', hostPath: { path: '/etc/rancher/k3s/k3s.yaml', type: 'File' } }]);
  });

  it('goes into k3s\'s static pod directory', () => {
    expect(endpointFiles(kv, host(kv, 'node2'), hostOpts).map((f) => f.path)).toEqual(['/var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml']);
  });
});
