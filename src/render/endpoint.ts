/**
 * The highly available API endpoint on the servers: keepalived (VRRP over unicast between the
 * servers, a health check of the local API server) or kube-vip (ARP mode, a static pod on every
 * server). Which one comes from `endpoint.mode`; `none` renders neither.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { parseIpv4 } from '../network/ipv4.js';
import { K3S_PATHS, hasRole, servers } from './cluster.js';
import { renderTemplate, type RenderedFile } from './engine.js';

export const ENDPOINT_PATHS = {
  keepalivedConf: '/etc/keepalived/keepalived.conf',
  checkScript: '/etc/keepalived/check-apiserver.sh',
  kubeVipManifest: `${K3S_PATHS.staticPods}/kube-vip.yaml`,
} as const;

/** k3s's admin client certificate (on servers), used by the health check because k3s disables anonymous API access. */
export const K3S_ADMIN_CLIENT = {
  cert: '/var/lib/rancher/k3s/server/tls/client-admin.crt',
  key: '/var/lib/rancher/k3s/server/tls/client-admin.key',
} as const;

export const DEFAULT_KUBE_VIP_IMAGE = 'ghcr.io/kube-vip/kube-vip:v1.0.4';

/** VRRP priority of the n-th server (0-based): the first server is preferred, then the next... */
export function vrrpPriority(index: number): number {
  return Math.max(1, 200 - 10 * index);
}

export interface KeepalivedContext {
  routerId: string;
  instanceName: string;
  interface: string;
  virtualRouterId: number;
  priority: number;
  unicastSrcIp: string;
  unicastPeers: string[];
  vip: string;
  vipPrefixLength: number;
  /** VRRP PASS authentication (1-8 characters), or null for none */
  authPass: string | null;
  checkScript: string;
}

export interface EndpointHostOptions {
  /** interface that carries the VIP when the inventory does not name one (from facts: the interface holding the host's address) */
  interface?: string;
  /** prefix length of the host's subnet (from facts), used for the VIP on the interface */
  prefixLength: number;
}

export interface KeepalivedOptions extends EndpointHostOptions {
  /** optional VRRP password (secret: the rendered file is then marked secret) */
  authPass?: string;
}

function requireServerWithVip(inv: Inventory, host: Host, mode: 'keepalived' | 'kube-vip'): string {
  if (inv.endpoint.mode !== mode) {
    throw new KubiError('wrong-endpoint-mode', `the ${mode} files are only used with endpoint.mode: ${mode} (this inventory uses ${inv.endpoint.mode})`, { exitCode: EXIT.invalidInput });
  }
  if (!hasRole(host, 'server')) throw new KubiError('not-a-server', `${host.name} has no server role`, { host: host.name });
  if (!inv.endpoint.vip) {
    throw new KubiError('missing-vip', `endpoint mode ${mode} needs endpoint.vip`, { exitCode: EXIT.invalidInput, hint: 'set endpoint.vip to a free address in the servers\' subnet' });
  }
  parseIpv4(inv.endpoint.vip, 'endpoint.vip');
  return inv.endpoint.vip;
}

function vipInterface(inv: Inventory, host: Host, opts: EndpointHostOptions): string {
  const iface = inv.endpoint.interface ?? opts.interface;
  if (!iface) {
    throw new KubiError('missing-interface', `no interface for the API VIP on ${host.name}`, {
      host: host.name,
      hint: 'set endpoint.interface, or pass the interface that holds the host address (from facts)',
    });
  }
  return iface;
}

export function buildKeepalivedContext(inv: Inventory, host: Host, opts: KeepalivedOptions): KeepalivedContext {
  const vip = requireServerWithVip(inv, host, 'keepalived');
  const all = servers(inv);
  const index = all.findIndex((s) => s.name === host.name);
  if (!Number.isInteger(opts.prefixLength) || opts.prefixLength < 1 || opts.prefixLength > 32) {
    throw new KubiError('render-internal', `prefix length ${opts.prefixLength} of ${host.name}'s subnet is not 1..32`, { host: host.name });
  }
  if (opts.authPass !== undefined && !/^[A-Za-z0-9]{1,8}$/.test(opts.authPass)) {
    throw new KubiError('invalid-vrrp-password', 'the VRRP password must be 1 to 8 letters or digits', { exitCode: EXIT.invalidInput });
  }
  return {
    routerId: host.name,
    instanceName: 'kubi_api',
    interface: vipInterface(inv, host, opts),
    virtualRouterId: inv.endpoint.virtualRouterId,
    priority: vrrpPriority(index),
    unicastSrcIp: host.address,
    unicastPeers: all.filter((s) => s.name !== host.name).map((s) => s.address),
    vip,
    vipPrefixLength: opts.prefixLength,
    authPass: opts.authPass ?? null,
    checkScript: ENDPOINT_PATHS.checkScript,
  };
}

export function renderKeepalivedConf(ctx: KeepalivedContext): string {
  return renderTemplate('etc/keepalived/keepalived.conf', ctx);
}

export function renderCheckApiserverScript(inv: Inventory): string {
  return renderTemplate('etc/keepalived/check-apiserver.sh', {
    url: `https://127.0.0.1:${inv.endpoint.port}/readyz`,
    clientCert: K3S_ADMIN_CLIENT.cert,
    clientKey: K3S_ADMIN_CLIENT.key,
  });
}

export interface KubeVipContext {
  vip: string;
  image: string;
  kubeconfig: string;
  /** kube-vip settings as environment variables, in manifest order */
  env: [string, string][];
}

export function buildKubeVipContext(inv: Inventory, host: Host, opts: EndpointHostOptions & { image?: string }): KubeVipContext {
  const vip = requireServerWithVip(inv, host, 'kube-vip');
  return {
    vip,
    image: opts.image ?? DEFAULT_KUBE_VIP_IMAGE,
    kubeconfig: K3S_PATHS.kubeconfig,
    env: [
      ['vip_arp', 'true'],
      ['address', vip],
      ['port', String(inv.endpoint.port)],
      ['vip_interface', vipInterface(inv, host, opts)],
      ['vip_subnet', '32'],
      ['cp_enable', 'true'],
      ['cp_namespace', 'kube-system'],
      ['svc_enable', 'false'],
      ['vip_ddns', 'false'],
      ['vip_leaderelection', 'true'],
      ['vip_leaseduration', '15'],
      ['vip_renewdeadline', '10'],
      ['vip_retryperiod', '2'],
      ['k8s_config_file', K3S_PATHS.kubeconfig],
    ],
  };
}

export function renderKubeVipManifest(ctx: KubeVipContext): string {
  return renderTemplate('var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml', ctx);
}

/** The endpoint files of one server for the inventory's mode ([] for mode none). */
export function endpointFiles(inv: Inventory, host: Host, opts: KeepalivedOptions & { image?: string }): RenderedFile[] {
  switch (inv.endpoint.mode) {
    case 'none':
      return [];
    case 'keepalived':
      return [
        { path: ENDPOINT_PATHS.keepalivedConf, content: renderKeepalivedConf(buildKeepalivedContext(inv, host, opts)), mode: 0o600, ...(opts.authPass ? { secret: true } : {}) },
        { path: ENDPOINT_PATHS.checkScript, content: renderCheckApiserverScript(inv), mode: 0o755 },
      ];
    case 'kube-vip':
      return [{ path: ENDPOINT_PATHS.kubeVipManifest, content: renderKubeVipManifest(buildKubeVipContext(inv, host, opts)), mode: 0o644 }];
  }
}
