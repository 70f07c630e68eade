/**
 * Pod networking files for the bridge CNI mode: the bridge + host-local + portmap conflist with
 * this node's pod subnet, a loopback config, and the routes to every other node's pod subnet
 * (a script run by a oneshot unit at boot, so the routes survive reboots). In flannel mode k3s
 * writes its own CNI config and none of these files are rendered.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { parseCidr } from '../network/ipv4.js';
import { podRoutesFor, POD_ROUTE_PROTO, type PodRoute } from '../network/routes.js';
import { kubeNodes, hasRole } from './cluster.js';
import { renderTemplate, type RenderedFile } from './engine.js';

export const CNI_PATHS = {
  conflist: '/etc/cni/net.d/10-kubi-bridge.conflist',
  loopback: '/etc/cni/net.d/99-loopback.conf',
  routesUnit: '/etc/systemd/system/kubi-pod-routes.service',
  routesScript: '/usr/local/lib/kubi/pod-routes.sh',
} as const;

/** CNI spec version of the rendered configs; supported by CNI plugins 1.0.0 and later (Debian 12 ships 1.1.1). */
export const CNI_VERSION = '1.0.0';
export const BRIDGE_NAME = 'cni0';
export const NETWORK_NAME = 'kubi-bridge';

export interface BridgeCniContext {
  cniVersion: string;
  name: string;
  bridge: string;
  /** this node's pod subnet */
  subnet: string;
}

export interface PodRoutesContext {
  node: string;
  proto: number;
  routes: PodRoute[];
  script: string;
}

function requireNode(host: Host): void {
  if (!hasRole(host, 'server') && !hasRole(host, 'agent')) {
    throw new KubiError('not-a-node', `${host.name} is not a Kubernetes node (no server or agent role)`, { host: host.name });
  }
}

function subnetOf(host: Host, subnets: Readonly<Record<string, string>>): string {
  const subnet = subnets[host.name];
  if (subnet === undefined) {
    throw new KubiError('missing-pod-subnet', `node ${host.name} has no pod subnet`, { host: host.name, hint: 'allocate subnets with allocatePodSubnets() first' });
  }
  parseCidr(subnet, `pod subnet of ${host.name}`);
  return subnet;
}

function requireBridgeMode(inv: Inventory): void {
  if (inv.network.cni !== 'bridge') {
    throw new KubiError('wrong-cni-mode', `the bridge CNI files are only used with network.cni: bridge (this inventory uses ${inv.network.cni})`, { exitCode: EXIT.invalidInput });
  }
}

/** `subnets`: every node's pod subnet, from allocatePodSubnets(). */
export function buildBridgeCniContext(inv: Inventory, host: Host, subnets: Readonly<Record<string, string>>): BridgeCniContext {
  requireBridgeMode(inv);
  requireNode(host);
  return { cniVersion: CNI_VERSION, name: NETWORK_NAME, bridge: BRIDGE_NAME, subnet: subnetOf(host, subnets) };
}

export function buildPodRoutesContext(inv: Inventory, host: Host, subnets: Readonly<Record<string, string>>): PodRoutesContext {
  requireBridgeMode(inv);
  requireNode(host);
  const nodes = kubeNodes(inv).map((n) => ({ name: n.name, address: n.address }));
  return { node: host.name, proto: POD_ROUTE_PROTO, routes: podRoutesFor(host.name, nodes, subnets), script: CNI_PATHS.routesScript };
}

export function renderBridgeConflist(ctx: BridgeCniContext): string {
  return renderTemplate('etc/cni/net.d/10-kubi-bridge.conflist', ctx);
}

export function renderLoopbackConf(): string {
  return renderTemplate('etc/cni/net.d/99-loopback.conf', { cniVersion: CNI_VERSION });
}

export function renderPodRoutesScript(ctx: PodRoutesContext): string {
  return renderTemplate('usr/local/lib/kubi/pod-routes.sh', ctx);
}

export function renderPodRoutesUnit(): string {
  return renderTemplate('etc/systemd/system/kubi-pod-routes.service', { script: CNI_PATHS.routesScript });
}

/** Every bridge-mode CNI file for one node ([] in flannel mode). */
export function cniFiles(inv: Inventory, host: Host, subnets: Readonly<Record<string, string>>): RenderedFile[] {
  if (inv.network.cni !== 'bridge') return [];
  return [
    { path: CNI_PATHS.conflist, content: renderBridgeConflist(buildBridgeCniContext(inv, host, subnets)), mode: 0o644 },
    { path: CNI_PATHS.loopback, content: renderLoopbackConf(), mode: 0o644 },
    { path: CNI_PATHS.routesScript, content: renderPodRoutesScript(buildPodRoutesContext(inv, host, subnets)), mode: 0o755 },
    { path: CNI_PATHS.routesUnit, content: renderPodRoutesUnit(), mode: 0o644 },
  ];
}
