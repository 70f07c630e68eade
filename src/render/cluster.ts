/**
 * Shared read-only views of the inventory for the renderers (pure): who is an etcd member, a
 * server, a node; the API endpoint URL; cluster DNS; and the remote paths the rendered files
 * point at, so steps and renderers agree on them.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { nthAddress, parseIpv4 } from '../network/ipv4.js';

/** Where the PKI files live on the hosts (written by the PKI steps, referenced by the configs). */
export const ETCD_PKI = {
  dir: '/etc/etcd/pki',
  ca: '/etc/etcd/pki/ca.crt',
  serverCert: '/etc/etcd/pki/server.crt',
  serverKey: '/etc/etcd/pki/server.key',
  peerCert: '/etc/etcd/pki/peer.crt',
  peerKey: '/etc/etcd/pki/peer.key',
  adminCert: '/etc/etcd/pki/admin.crt',
  adminKey: '/etc/etcd/pki/admin.key',
} as const;

/** k3s servers' client credentials for the external etcd, and the token file (0600; the token never goes into a config or argv). */
export const K3S_PATHS = {
  config: '/etc/rancher/k3s/config.yaml',
  token: '/etc/rancher/k3s/token',
  datastoreCa: '/etc/rancher/k3s/etcd/ca.crt',
  datastoreCert: '/etc/rancher/k3s/etcd/client.crt',
  datastoreKey: '/etc/rancher/k3s/etcd/client.key',
  binary: '/usr/local/bin/k3s',
  /** admin kubeconfig k3s writes on servers */
  kubeconfig: '/etc/rancher/k3s/k3s.yaml',
  staticPods: '/var/lib/rancher/k3s/agent/pod-manifests',
} as const;

export const CONTAINERD_SOCKET = 'unix:///run/containerd/containerd.sock';

export function hasRole(host: Host, role: 'etcd' | 'server' | 'agent'): boolean {
  return host.roles.includes(role);
}

/** etcd members in inventory order. */
export function etcdMembers(inv: Inventory): Host[] {
  return inv.hosts.filter((h) => hasRole(h, 'etcd'));
}

/** k3s servers in inventory order. */
export function servers(inv: Inventory): Host[] {
  return inv.hosts.filter((h) => hasRole(h, 'server'));
}

/** Kubernetes nodes (servers and agents; an etcd-only host is not a node), in inventory order. */
export function kubeNodes(inv: Inventory): Host[] {
  return inv.hosts.filter((h) => hasRole(h, 'server') || hasRole(h, 'agent'));
}

export function findHost(inv: Inventory, name: string): Host {
  const host = inv.hosts.find((h) => h.name === name);
  if (!host) throw new KubiError('unknown-host', `${name} is not in the inventory`, { exitCode: EXIT.invalidInput });
  return host;
}

/** cluster DNS address: the inventory's, or the 10th address of the service CIDR (k3s's own default rule). */
export function clusterDns(inv: Inventory): string {
  return inv.network.clusterDns ?? nthAddress(inv.network.serviceCidr, 10);
}

/** `https://<vip>:<port>` when the endpoint mode provides a VIP, otherwise null. */
export function apiVipUrl(inv: Inventory): string | null {
  if (inv.endpoint.mode === 'none') return null;
  if (!inv.endpoint.vip) {
    throw new KubiError('missing-vip', `endpoint mode ${inv.endpoint.mode} needs endpoint.vip`, {
      exitCode: EXIT.invalidInput,
      hint: 'set endpoint.vip to a free address in the hosts\' subnet, or set endpoint.mode to none',
    });
  }
  parseIpv4(inv.endpoint.vip, 'endpoint.vip');
  return `https://${inv.endpoint.vip}:${inv.endpoint.port}`;
}

/** A stable identifier from the cluster name: lower-case letters, digits and dashes. */
export function slug(value: string): string {
  const s = value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'cluster';
}
