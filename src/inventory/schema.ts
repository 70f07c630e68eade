/**
 * The inventory model. Types come from this zod schema; string formats live in formats.ts,
 * cross-host and semantic rules in rules.ts, the file reader in load.ts. Every object is strict:
 * unknown keys are errors. Descriptions end up in the JSON Schema (`kubi-provision schema`), so
 * editors show them; keep them short and say the default.
 */
import { z } from 'zod';
import { FORMATS, type FormatName } from './formats.js';

/** Pinned default versions (upstream releases). The lab pins Debian's builds in its own inventory. */
export const DEFAULT_VERSIONS = {
  k3s: 'v1.34.3+k3s1',
  etcd: 'v3.5.21',
  containerd: '1.7.28',
  runc: 'v1.3.0',
  cni: 'v1.7.1',
} as const;

export const ROLES = ['etcd', 'server', 'agent'] as const;
export const ARCHES = ['amd64', 'arm64', 'armhf'] as const;
export const CNI_MODES = ['bridge', 'flannel'] as const;
export const ENDPOINT_MODES = ['keepalived', 'kube-vip', 'none'] as const;
export const ARTIFACT_SOURCES = ['upstream', 'offline'] as const;

/** A string that must match one of the formats in formats.ts (the message is the format's). */
function formatted(name: FormatName) {
  const f = FORMATS[name];
  return z.string().regex(f.pattern, { error: f.message });
}

const durationMs = z.number().int().positive();

/** SSH settings: cluster-wide defaults, each overridable per host. */
export const SshSettings = z.strictObject({
  user: formatted('sshUser').optional().describe('login user (default root)'),
  port: z.number().int().min(1).max(65535).optional().describe('SSH port (default 22)'),
  privateKey: formatted('localPath').optional().describe('path of the private key file (~ expands; relative to the inventory file)'),
  agent: z.boolean().optional().describe('use ssh-agent when $SSH_AUTH_SOCK is set (default true)'),
  sudo: z.boolean().optional().describe('run commands through sudo -n (default: when user is not root)'),
  jumpHost: formatted('jumpHost').optional().describe('ProxyJump as [user@]host[:port]'),
  useSshConfig: z
    .boolean()
    .optional()
    .describe('read ~/.ssh/config Host entries (HostName, User, Port, IdentityFile, ProxyJump) (default false)'),
  connectTimeoutMs: durationMs.optional().describe('connect timeout in ms (default 10000)'),
  commandTimeoutMs: durationMs.optional().describe('default per-command timeout in ms (default 300000)'),
});
export type SshSettings = z.infer<typeof SshSettings>;

export const Host = z.strictObject({
  name: formatted('hostName').describe('host name (RFC 1123 label), also the node and etcd member name'),
  address: formatted('ipv4').describe('IPv4 address the tool connects to and the cluster uses'),
  roles: z
    .array(z.enum(ROLES))
    .min(1)
    .describe('etcd, server, agent: etcd+server is the usual HA combination; agent never with server'),
  arch: z.enum(ARCHES).optional().describe('expected userland architecture; checked against facts'),
  labels: z
    .record(formatted('labelKey'), formatted('labelValue'))
    .optional()
    .describe('Kubernetes node labels, applied at registration (not in the kubernetes.io / k8s.io namespaces)'),
  taints: z.array(formatted('taint')).optional().describe('node taints, key[=value]:NoSchedule|PreferNoSchedule|NoExecute'),
  ssh: SshSettings.optional().describe('per-host overrides of the cluster-wide ssh settings'),
});
export type Host = z.infer<typeof Host>;

export const Inventory = z.strictObject({
  cluster: z
    .strictObject({
      name: formatted('clusterName').describe('cluster name: names the kubeconfig context and the state directory'),
      stateDir: formatted('localPath')
        .optional()
        .describe('state directory (PKI, token, known_hosts, run logs); default: .kubi/<name> beside the inventory'),
    })
    .describe('the cluster as a whole'),
  versions: z
    .strictObject({
      k3s: formatted('k3sVersion').default(DEFAULT_VERSIONS.k3s).describe(`k3s release (default ${DEFAULT_VERSIONS.k3s})`),
      etcd: formatted('etcdVersion').default(DEFAULT_VERSIONS.etcd).describe(`etcd release (default ${DEFAULT_VERSIONS.etcd})`),
      containerd: formatted('containerdVersion')
        .transform((v) => v.replace(/^v/, ''))
        .default(DEFAULT_VERSIONS.containerd)
        .describe(`containerd release, a leading v is dropped (default ${DEFAULT_VERSIONS.containerd})`),
      runc: formatted('runcVersion').default(DEFAULT_VERSIONS.runc).describe(`runc release (default ${DEFAULT_VERSIONS.runc})`),
      cni: formatted('cniVersion').default(DEFAULT_VERSIONS.cni).describe(`CNI plugins release (default ${DEFAULT_VERSIONS.cni})`),
    })
    .prefault({})
    .describe('pinned component versions'),
  network: z
    .strictObject({
      podCidr: formatted('cidr').default('10.42.0.0/16').describe('pod network (default 10.42.0.0/16)'),
      serviceCidr: formatted('cidr').default('10.43.0.0/16').describe('service network, /12 or smaller (default 10.43.0.0/16)'),
      clusterDns: formatted('ipv4').optional().describe('cluster DNS service address (default: the 10th address of the service CIDR)'),
      nodeCidrMaskSize: z.number().int().min(16).max(28).default(24).describe('prefix length of each node\'s pod subnet (default 24)'),
      cni: z.enum(CNI_MODES).default('bridge').describe('bridge (plain CNI bridge + host routes) or flannel (k3s built-in) (default bridge)'),
    })
    .prefault({})
    .describe('cluster networking'),
  endpoint: z
    .strictObject({
      mode: z.enum(ENDPOINT_MODES).default('keepalived').describe('how the API stays reachable: keepalived VIP, kube-vip, or none (first server) (default keepalived)'),
      vip: formatted('ipv4').optional().describe('virtual IP of the API (required unless mode is none)'),
      interface: formatted('interfaceName')
        .optional()
        .describe('interface that carries the VIP (default: the one holding the host address)'),
      subnet: formatted('cidr')
        .optional()
        .describe('the layer-2 subnet of the servers and the VIP, e.g. 192.168.1.0/24 (default: detected on the hosts)'),
      port: z.number().int().min(1).max(65535).default(6443).describe('API port (default 6443)'),
      virtualRouterId: z.number().int().min(1).max(255).default(51).describe('VRRP router id, unique on the LAN (default 51)'),
    })
    .prefault({})
    .describe('the highly available API endpoint'),
  ssh: SshSettings.prefault({}).describe('SSH defaults for every host'),
  artifacts: z
    .strictObject({
      source: z.enum(ARTIFACT_SOURCES).default('upstream').describe('upstream downloads or an offline directory (default upstream)'),
      dir: formatted('localPath').optional().describe('offline directory (required when source is offline; relative to the inventory file)'),
      cacheDir: formatted('localPath').optional().describe('download cache (default ~/.cache/kubi-provision/artifacts)'),
      mirrorUrl: formatted('url')
        .optional()
        .describe('base URL that replaces the upstream release hosts (a local mirror with the same layout as an offline directory)'),
    })
    .prefault({})
    .describe('where binaries come from'),
  etcd: z
    .strictObject({
      heartbeatIntervalMs: z.number().int().min(10).max(10000).default(100).describe('etcd heartbeat interval in ms (default 100)'),
      electionTimeoutMs: z.number().int().min(50).max(50000).default(1000).describe('etcd election timeout in ms, at least 5x the heartbeat (default 1000)'),
      allowEvenMembers: z.boolean().default(false).describe('accept an even number of etcd members (default false: refused)'),
      dataDir: formatted('remotePath').default('/var/lib/etcd').describe('etcd data directory on the hosts (default /var/lib/etcd)'),
    })
    .prefault({})
    .describe('the external etcd cluster'),
  k3s: z
    .strictObject({
      secretsEncryption: z.boolean().default(true).describe('encrypt Secrets at rest (default true)'),
    })
    .prefault({})
    .describe('k3s settings'),
  hosts: z.array(Host).min(1).describe('the machines, in order (the first server bootstraps nothing special)'),
});

/** The validated inventory with defaults applied. */
export type Inventory = z.infer<typeof Inventory>;
/** What a user writes (defaults not yet applied). */
export type InventoryInput = z.input<typeof Inventory>;
export type Role = (typeof ROLES)[number];
export type Arch = (typeof ARCHES)[number];
