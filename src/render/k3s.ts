/**
 * k3s configuration: /etc/rancher/k3s/config.yaml for servers (external etcd, external
 * containerd, our CNI or k3s's flannel) and for agents (agent keys only: an agent refuses to start
 * on a server-only key), and the k3s.service / k3s-agent.service units with the settings of the
 * official install script. The join token is never rendered: both configs point at token-file.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { parseCidr, parseIpv4 } from '../network/ipv4.js';
import { CONTAINERD_SOCKET, K3S_PATHS, apiVipUrl, clusterDns, etcdMembers, hasRole, servers } from './cluster.js';
import { renderTemplate, type RenderedFile } from './engine.js';
import { etcdClientUrl } from './etcd.js';

export const K3S_UNIT_PATHS = {
  server: '/etc/systemd/system/k3s.service',
  agent: '/etc/systemd/system/k3s-agent.service',
} as const;

/** The port k3s serves the API on unless `https-listen-port` says otherwise. */
export const K3S_DEFAULT_PORT = 6443;

/** Kubelet arguments every node gets: containerd runs with SystemdCgroup = true and k3s only manages the driver of its embedded containerd. */
export const BASE_KUBELET_ARGS = ['cgroup-driver=systemd'] as const;

export interface K3sNodeOptions {
  /** more kubelet arguments, `name=value` (e.g. for a lab) */
  extraKubeletArgs?: readonly string[];
  /** kube-proxy arguments, `name=value` (e.g. `conntrack-max-per-core=0` inside LXC) */
  extraKubeProxyArgs?: readonly string[];
}

interface K3sNodeContext {
  nodeName: string;
  nodeIp: string;
  tokenFile: string;
  containerRuntimeEndpoint: string;
  /** `key=value`, sorted by key */
  nodeLabels: string[];
  nodeTaints: string[];
  kubeletArgs: string[];
  kubeProxyArgs: string[];
}

export interface K3sServerContext extends K3sNodeContext {
  /** null when the API endpoint uses the default port */
  httpsListenPort: number | null;
  datastoreEndpoint: string;
  datastoreCafile: string;
  datastoreCertfile: string;
  datastoreKeyfile: string;
  tlsSan: string[];
  clusterCidr: string;
  serviceCidr: string;
  clusterDns: string;
  /** `none` in bridge mode (our CNI), `vxlan` with k3s's flannel */
  flannelBackend: 'none' | 'vxlan';
  disableNetworkPolicy: boolean;
  kubeControllerManagerArgs: string[];
  secretsEncryption: boolean;
  writeKubeconfigMode: string;
}

export interface K3sAgentContext extends K3sNodeContext {
  /** URL of the API endpoint the agent registers with */
  server: string;
}

/**
 * Label keys the kubelet may set on its own node (NodeRestriction); other kubernetes.io / k8s.io
 * labels make k3s fail at registration, so they are refused here with a clear message.
 */
const ALLOWED_K8S_LABEL_KEYS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);

function checkLabelKey(host: Host, key: string): void {
  const slash = key.indexOf('/');
  if (slash < 0) return;
  const prefix = key.slice(0, slash);
  const k8sNamespace = /(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix);
  const kubeletNamespace = /(^|\.)(kubelet|node)\.kubernetes\.io$/.test(prefix);
  if (k8sNamespace && !kubeletNamespace && !ALLOWED_K8S_LABEL_KEYS.has(key)) {
    throw new KubiError('forbidden-node-label', `node label ${key} is reserved: a node may not set it on itself`, {
      exitCode: EXIT.invalidInput,
      host: host.name,
      hint: 'use your own prefix (example.com/role) or label the node with kubectl after it joined',
    });
  }
}

function nodeContext(host: Host, opts: K3sNodeOptions): K3sNodeContext {
  parseIpv4(host.address, `address of ${host.name}`);
  const labels = Object.entries(host.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key] of labels) checkLabelKey(host, key);
  return {
    nodeName: host.name,
    nodeIp: host.address,
    tokenFile: K3S_PATHS.token,
    containerRuntimeEndpoint: CONTAINERD_SOCKET,
    nodeLabels: labels.map(([k, v]) => `${k}=${v}`),
    nodeTaints: [...(host.taints ?? [])],
    kubeletArgs: [...BASE_KUBELET_ARGS, ...(opts.extraKubeletArgs ?? [])],
    kubeProxyArgs: [...(opts.extraKubeProxyArgs ?? [])],
  };
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}

export function buildK3sServerContext(inv: Inventory, host: Host, opts: K3sNodeOptions = {}): K3sServerContext {
  if (!hasRole(host, 'server')) throw new KubiError('not-a-server', `${host.name} has no server role`, { host: host.name });
  const members = etcdMembers(inv);
  if (members.length === 0) {
    throw new KubiError('no-etcd-members', 'the inventory has no etcd member for the k3s datastore', {
      exitCode: EXIT.invalidInput,
      hint: 'give an odd number of hosts the etcd role',
    });
  }
  // apiVipUrl() checks that a mode with a VIP has one
  const vip = apiVipUrl(inv) === null ? null : inv.endpoint.vip!;
  const bridge = inv.network.cni === 'bridge';
  parseCidr(inv.network.podCidr, 'network.podCidr');
  parseCidr(inv.network.serviceCidr, 'network.serviceCidr');
  parseIpv4(clusterDns(inv), 'network.clusterDns');
  return {
    ...nodeContext(host, opts),
    httpsListenPort: inv.endpoint.port === K3S_DEFAULT_PORT ? null : inv.endpoint.port,
    datastoreEndpoint: members.map(etcdClientUrl).join(','),
    datastoreCafile: K3S_PATHS.datastoreCa,
    datastoreCertfile: K3S_PATHS.datastoreCert,
    datastoreKeyfile: K3S_PATHS.datastoreKey,
    tlsSan: dedupe([...(vip ? [vip] : []), ...servers(inv).flatMap((s) => [s.name, s.address])]),
    clusterCidr: inv.network.podCidr,
    serviceCidr: inv.network.serviceCidr,
    clusterDns: clusterDns(inv),
    flannelBackend: bridge ? 'none' : 'vxlan',
    disableNetworkPolicy: bridge,
    kubeControllerManagerArgs: [`node-cidr-mask-size-ipv4=${inv.network.nodeCidrMaskSize}`],
    secretsEncryption: inv.k3s.secretsEncryption,
    writeKubeconfigMode: '0600',
  };
}

export interface K3sAgentOptions extends K3sNodeOptions {
  /**
   * With endpoint.mode none there is no VIP: the address of a healthy server the agent registers
   * with (the agent then learns every server itself). Ignored when the inventory has a VIP.
   */
  serverAddress?: string;
}

export function buildK3sAgentContext(inv: Inventory, host: Host, opts: K3sAgentOptions = {}): K3sAgentContext {
  if (!hasRole(host, 'agent') || hasRole(host, 'server')) {
    throw new KubiError('not-an-agent', `${host.name} is not an agent-only host (a server runs its agent itself)`, { host: host.name });
  }
  let server = apiVipUrl(inv);
  if (server === null) {
    if (!opts.serverAddress) {
      throw new KubiError('missing-server-address', `endpoint mode none: agent ${host.name} needs the address of a healthy server`, {
        host: host.name,
        hint: 'pass serverAddress (the first healthy server) when rendering the agent config',
      });
    }
    parseIpv4(opts.serverAddress, 'server address');
    server = `https://${opts.serverAddress}:${inv.endpoint.port}`;
  }
  return { ...nodeContext(host, opts), server };
}

export function renderK3sServerConfig(ctx: K3sServerContext): string {
  return renderTemplate('etc/rancher/k3s/config.server.yaml', ctx);
}

export function renderK3sAgentConfig(ctx: K3sAgentContext): string {
  return renderTemplate('etc/rancher/k3s/config.agent.yaml', ctx);
}

/** k3s.service (server) or k3s-agent.service (agent). */
export function renderK3sUnit(kind: 'server' | 'agent'): string {
  const unitPath = K3S_UNIT_PATHS[kind];
  return renderTemplate('etc/systemd/system/k3s.service', {
    description: kind === 'server' ? 'Lightweight Kubernetes (k3s server)' : 'Lightweight Kubernetes (k3s agent)',
    envFile: `${unitPath}.env`,
    configFile: K3S_PATHS.config,
    argv: [K3S_PATHS.binary, kind],
  });
}

/** Config and unit of a server. 0600: the config names key files and is nobody else's business. */
export function k3sServerFiles(inv: Inventory, host: Host, opts: K3sNodeOptions = {}): RenderedFile[] {
  return [
    { path: K3S_PATHS.config, content: renderK3sServerConfig(buildK3sServerContext(inv, host, opts)), mode: 0o600 },
    { path: K3S_UNIT_PATHS.server, content: renderK3sUnit('server'), mode: 0o644 },
  ];
}

export function k3sAgentFiles(inv: Inventory, host: Host, opts: K3sAgentOptions = {}): RenderedFile[] {
  return [
    { path: K3S_PATHS.config, content: renderK3sAgentConfig(buildK3sAgentContext(inv, host, opts)), mode: 0o600 },
    { path: K3S_UNIT_PATHS.agent, content: renderK3sUnit('agent'), mode: 0o644 },
  ];
}
