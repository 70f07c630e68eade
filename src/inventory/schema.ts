/**
 * The inventory model. Types come from this zod schema; cross-host rules live in rules.ts,
 * the file reader in load.ts. Every object is strict: unknown keys are errors.
 */
import { z } from 'zod';

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

const durationMs = z.number().int().positive();

/** SSH settings: cluster-wide defaults, each overridable per host. */
export const SshSettings = z.strictObject({
  user: z.string().min(1).optional().describe('login user (default root)'),
  port: z.number().int().min(1).max(65535).optional().describe('SSH port (default 22)'),
  privateKey: z.string().min(1).optional().describe('path of the private key file (~ expands)'),
  agent: z.boolean().optional().describe('use ssh-agent ($SSH_AUTH_SOCK)'),
  sudo: z.boolean().optional().describe('run commands through sudo -n (default: when user is not root)'),
  jumpHost: z.string().min(1).optional().describe('ProxyJump as [user@]host[:port]'),
  useSshConfig: z.boolean().optional().describe('read ~/.ssh/config Host entries (HostName, User, Port, IdentityFile, ProxyJump)'),
  connectTimeoutMs: durationMs.optional().describe('connect timeout in ms (default 10000)'),
  commandTimeoutMs: durationMs.optional().describe('default per-command timeout in ms (default 300000)'),
});
export type SshSettings = z.infer<typeof SshSettings>;

export const Host = z.strictObject({
  name: z.string().describe('host name, also the node and etcd member name'),
  address: z.string().describe('IPv4 address the tool connects to and the cluster uses'),
  roles: z.array(z.enum(ROLES)).min(1).describe('etcd, server, agent (etcd+server is the usual HA combination)'),
  arch: z.enum(ARCHES).optional().describe('expected userland architecture; checked against facts'),
  labels: z.record(z.string(), z.string()).optional().describe('Kubernetes node labels (applied at registration)'),
  taints: z.array(z.string()).optional().describe('node taints, key=value:Effect'),
  ssh: SshSettings.optional(),
});
export type Host = z.infer<typeof Host>;

export const Inventory = z.strictObject({
  cluster: z.strictObject({
    name: z.string().describe('cluster name: names the kubeconfig context and the state directory'),
    stateDir: z.string().optional().describe('state directory (PKI, token, known_hosts, run logs); default: .kubi/<name> beside the inventory'),
  }),
  versions: z
    .strictObject({
      k3s: z.string().default(DEFAULT_VERSIONS.k3s),
      etcd: z.string().default(DEFAULT_VERSIONS.etcd),
      containerd: z.string().default(DEFAULT_VERSIONS.containerd),
      runc: z.string().default(DEFAULT_VERSIONS.runc),
      cni: z.string().default(DEFAULT_VERSIONS.cni),
    })
    .prefault({}),
  network: z
    .strictObject({
      podCidr: z.string().default('10.42.0.0/16'),
      serviceCidr: z.string().default('10.43.0.0/16'),
      clusterDns: z.string().optional().describe('default: the 10th address of the service CIDR'),
      nodeCidrMaskSize: z.number().int().min(16).max(28).default(24),
      cni: z.enum(['bridge', 'flannel']).default('bridge'),
    })
    .prefault({}),
  endpoint: z
    .strictObject({
      mode: z.enum(['keepalived', 'kube-vip', 'none']).default('keepalived'),
      vip: z.string().optional().describe('virtual IP of the API (required unless mode is none)'),
      interface: z.string().optional().describe('interface that carries the VIP (default: the one holding the host address)'),
      port: z.number().int().min(1).max(65535).default(6443),
      virtualRouterId: z.number().int().min(1).max(255).default(51),
    })
    .prefault({}),
  ssh: SshSettings.prefault({}),
  artifacts: z
    .strictObject({
      source: z.enum(['upstream', 'offline']).default('upstream'),
      dir: z.string().optional().describe('offline directory (required when source is offline)'),
      cacheDir: z.string().optional().describe('download cache (default ~/.cache/kubi-provision/artifacts)'),
      mirrorUrl: z.string().optional().describe('base URL that replaces the upstream release hosts (a local mirror with the same layout as an offline directory)'),
    })
    .prefault({}),
  etcd: z
    .strictObject({
      heartbeatIntervalMs: z.number().int().min(10).max(10000).default(100),
      electionTimeoutMs: z.number().int().min(50).max(50000).default(1000),
      allowEvenMembers: z.boolean().default(false),
      dataDir: z.string().default('/var/lib/etcd'),
    })
    .prefault({}),
  k3s: z
    .strictObject({
      secretsEncryption: z.boolean().default(true),
    })
    .prefault({}),
  hosts: z.array(Host).min(1),
});

/** The validated inventory with defaults applied. */
export type Inventory = z.infer<typeof Inventory>;
/** What a user writes (defaults not yet applied). */
export type InventoryInput = z.input<typeof Inventory>;
export type Role = (typeof ROLES)[number];
export type Arch = (typeof ARCHES)[number];
