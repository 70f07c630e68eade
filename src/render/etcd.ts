/**
 * etcd member configuration: the systemd unit, the environment file it reads (ETCD_* variables,
 * understood by etcd 3.4 and 3.5 alike) and the etcdctl environment for administrators.
 * Members, names and URLs come from the inventory; the initial cluster state is a step input.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Arch, Host, Inventory } from '../inventory/schema.js';
import { parseIpv4 } from '../network/ipv4.js';
import { ETCD_PKI, etcdMembers, hasRole, slug } from './cluster.js';
import { renderTemplate, type RenderedFile } from './engine.js';

export const ETCD_PATHS = {
  unit: '/etc/systemd/system/etcd.service',
  env: '/etc/etcd/etcd.env',
  etcdctlProfile: '/etc/profile.d/etcdctl.sh',
  binary: '/usr/local/bin/etcd',
} as const;

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

export interface EtcdContext {
  name: string;
  dataDir: string;
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  /** `name=https://addr:2380,...` for every member */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  pki: typeof ETCD_PKI;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** value for ETCD_UNSUPPORTED_ARCH, or null on supported architectures */
  unsupportedArch: string | null;
}

export interface EtcdOptions {
  /** `new` while bootstrapping the cluster, `existing` when this member joins a running cluster */
  initialClusterState: 'new' | 'existing';
  /** the host's architecture from facts (wins over the inventory's `arch`) */
  arch?: Arch | 'unknown';
}

/** etcd member names end up in `name=url,name=url`: keep them to characters that cannot break that list. */
function memberName(host: Host): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(host.name)) {
    throw new KubiError('invalid-host-name', `host name ${JSON.stringify(host.name)} cannot be an etcd member name`, {
      exitCode: EXIT.invalidInput,
      host: host.name,
      hint: 'use letters, digits, dots, dashes and underscores',
    });
  }
  return host.name;
}

export function etcdPeerUrl(host: Host): string {
  parseIpv4(host.address, `address of ${host.name}`);
  return `https://${host.address}:${ETCD_PEER_PORT}`;
}

export function etcdClientUrl(host: Host): string {
  parseIpv4(host.address, `address of ${host.name}`);
  return `https://${host.address}:${ETCD_CLIENT_PORT}`;
}

/** The token that makes this cluster's members refuse members of other clusters; derived from the cluster name, never changes. */
export function etcdClusterToken(inv: Inventory): string {
  return `kubi-${slug(inv.cluster.name)}-etcd`;
}

export function buildEtcdContext(inv: Inventory, host: Host, opts: EtcdOptions): EtcdContext {
  if (!hasRole(host, 'etcd')) {
    throw new KubiError('not-an-etcd-member', `${host.name} has no etcd role`, { host: host.name });
  }
  const members = etcdMembers(inv);
  const arch = opts.arch && opts.arch !== 'unknown' ? opts.arch : host.arch;
  return {
    name: memberName(host),
    dataDir: inv.etcd.dataDir,
    listenPeerUrls: [etcdPeerUrl(host)],
    initialAdvertisePeerUrls: [etcdPeerUrl(host)],
    listenClientUrls: [etcdClientUrl(host), `https://127.0.0.1:${ETCD_CLIENT_PORT}`],
    advertiseClientUrls: [etcdClientUrl(host)],
    initialCluster: members.map((m) => `${memberName(m)}=${etcdPeerUrl(m)}`).join(','),
    initialClusterState: opts.initialClusterState,
    initialClusterToken: etcdClusterToken(inv),
    pki: ETCD_PKI,
    heartbeatIntervalMs: inv.etcd.heartbeatIntervalMs,
    electionTimeoutMs: inv.etcd.electionTimeoutMs,
    unsupportedArch: arch === 'armhf' ? 'arm' : null,
  };
}

export function renderEtcdEnv(ctx: EtcdContext): string {
  return renderTemplate('etc/etcd/etcd.env', ctx);
}

export function renderEtcdUnit(): string {
  return renderTemplate('etc/systemd/system/etcd.service', { envFile: ETCD_PATHS.env, binary: ETCD_PATHS.binary });
}

export function renderEtcdctlProfile(): string {
  return renderTemplate('etc/profile.d/etcdctl.sh', { pki: ETCD_PKI, endpoint: `https://127.0.0.1:${ETCD_CLIENT_PORT}` });
}

/** Every etcd file for one member. */
export function etcdFiles(inv: Inventory, host: Host, opts: EtcdOptions): RenderedFile[] {
  return [
    { path: ETCD_PATHS.unit, content: renderEtcdUnit(), mode: 0o644 },
    { path: ETCD_PATHS.env, content: renderEtcdEnv(buildEtcdContext(inv, host, opts)), mode: 0o644 },
    { path: ETCD_PATHS.etcdctlProfile, content: renderEtcdctlProfile(), mode: 0o644 },
  ];
}
