/**
 * What k3s on a node should look like, shared by every k3s step so they agree:
 *  - files k3s.install writes: the binary, the join token (/etc/rancher/k3s/token, 0600, secret)
 *    and, on servers, the datastore client certificate for the external etcd;
 *  - files k3s.configure writes: config.yaml (server or agent) and the unit;
 *  - the service (k3s.service or k3s-agent.service) with the fingerprint of every input of the
 *    running process: a different fingerprint means restart.
 * Node options follow the host: inside a container (LXC) kube-proxy gets conntrack-max-per-core=0
 * (nf_conntrack_max cannot be set from a container's network namespace). With endpoint mode none
 * an agent registers with a server's address: the one it already uses when that is still a
 * server, else the first server.
 */
import { parse as parseYaml } from 'yaml';
import type { ClusterContext, StepContext } from '../../engine/types.js';
import type { Host } from '../../inventory/schema.js';
import { ETCD_CA_ID, ETCD_K3S_CLIENT_ID } from '../../pki/index.js';
import { K3S_PATHS, hasRole, servers } from '../../render/cluster.js';
import { K3S_UNIT_PATHS, k3sAgentFiles, k3sServerFiles, type K3sNodeOptions } from '../../render/k3s.js';
import { fingerprintOf, type DesiredDir, type DesiredFile, type DesiredService } from '../lib/index.js';
import { etcdCertificates } from '../pki/etcd.js';
import { k3sBinary, type K3sBinary } from './artifact.js';
import { loadK3sToken } from './token.js';

export const K3S_UNITS = { server: 'k3s.service', agent: 'k3s-agent.service' } as const;
export type NodeKind = keyof typeof K3S_UNITS;

/** Same length as a real token, so the plan's byte count does not change once it is generated. */
export const TOKEN_PLACEHOLDER = `${'0'.repeat(64)}\n`;

const root = { owner: 'root', group: 'root' } as const;

export function nodeKind(host: Host): NodeKind {
  return hasRole(host, 'server') ? 'server' : 'agent';
}

export function unitOf(host: Host): string {
  return K3S_UNITS[nodeKind(host)];
}

/** Extra kubelet / kube-proxy arguments for this host (pure). */
export function nodeOptions(facts: Pick<StepContext['facts'], 'container'>): K3sNodeOptions {
  return facts.container ? { extraKubeProxyArgs: ['conntrack-max-per-core=0'] } : {};
}

/**
 * Endpoint mode none: the server address an agent registers with (pure). The one in its current
 * config while that is still a server's address, else the first server's.
 */
export function agentServerAddress(inv: StepContext['cluster']['inventory'], currentConfig: string | null): string | undefined {
  const addresses = servers(inv).map((s) => s.address);
  if (currentConfig) {
    try {
      const doc = parseYaml(currentConfig) as { server?: unknown } | null;
      const m = typeof doc?.server === 'string' ? /^https:\/\/([\d.]+):\d+$/.exec(doc.server) : null;
      if (m && addresses.includes(m[1]!)) return m[1]!;
    } catch {
      /* an unreadable config is replaced */
    }
  }
  return addresses[0];
}

/** config.yaml and the unit (k3s.configure). */
export function k3sConfigFiles(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>, currentConfig: string | null = null): DesiredFile[] {
  const inv = ctx.cluster.inventory;
  const opts = nodeOptions(ctx.facts);
  const rendered =
    nodeKind(ctx.host) === 'server'
      ? k3sServerFiles(inv, ctx.host, opts)
      : k3sAgentFiles(inv, ctx.host, { ...opts, ...(inv.endpoint.mode === 'none' ? { serverAddress: agentServerAddress(inv, currentConfig)! } : {}) });
  return rendered.map((f) => ({ path: f.path, content: f.content, mode: f.mode, ...root }));
}

export const K3S_DIRS = {
  config: { path: '/etc/rancher/k3s', mode: 0o755, ...root },
  datastore: { path: '/etc/rancher/k3s/etcd', mode: 0o700, ...root },
} as const satisfies Record<string, DesiredDir>;

/** The datastore client certificate files of a server (the key 0600, secret). */
export async function datastoreFiles(cluster: ClusterContext): Promise<DesiredFile[]> {
  const certs = await etcdCertificates(cluster);
  const ca = certs.get(ETCD_CA_ID);
  const client = certs.get(ETCD_K3S_CLIENT_ID);
  if (!ca || !client) throw new Error(`certificates ${ETCD_CA_ID} and ${ETCD_K3S_CLIENT_ID} are missing from the plan of the etcd PKI`);
  return [
    { path: K3S_PATHS.datastoreCa, content: ca.certPem, mode: 0o644, ...root },
    { path: K3S_PATHS.datastoreCert, content: client.certPem, mode: 0o644, ...root },
    { path: K3S_PATHS.datastoreKey, content: client.keyPem, mode: 0o600, secret: true, ...root },
  ];
}

export interface K3sInstallDesired {
  binary: K3sBinary;
  /** binary (when ready), token, datastore files */
  files: DesiredFile[];
  dirs: DesiredDir[];
  /** false in plan mode before k3s.token generated it */
  tokenKnown: boolean;
}

/** The token file for the hosts (the placeholder in plan mode before the token exists). */
export async function tokenFile(cluster: ClusterContext): Promise<{ file: DesiredFile; known: boolean }> {
  const token = await loadK3sToken(cluster);
  return {
    file: { path: K3S_PATHS.token, content: token === null ? TOKEN_PLACEHOLDER : `${token}\n`, mode: 0o600, secret: true, ...root },
    known: token !== null,
  };
}

export async function k3sInstallDesired(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): Promise<K3sInstallDesired> {
  const binary = await k3sBinary(ctx);
  const token = await tokenFile(ctx.cluster);
  const isServer = nodeKind(ctx.host) === 'server';
  const files = [...(binary.state === 'ready' ? [binary.file] : []), token.file, ...(isServer ? await datastoreFiles(ctx.cluster) : [])];
  return { binary, files, dirs: isServer ? [K3S_DIRS.config, K3S_DIRS.datastore] : [K3S_DIRS.config], tokenKnown: token.known };
}

/** The service with the fingerprint of everything the running k3s depends on. */
export async function k3sService(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>, currentConfig: string | null = null): Promise<DesiredService> {
  const install = await k3sInstallDesired(ctx);
  const config = k3sConfigFiles(ctx, currentConfig);
  const extra: string[] = [];
  if (install.binary.state !== 'ready') extra.push(`binary ${install.binary.state}`);
  if (!install.tokenKnown) extra.push('token not generated yet');
  return { unit: unitOf(ctx.host), inputs: { files: [...install.files, ...config], extra } };
}

/** Paths of the unit files (for messages). */
export function unitPathOf(host: Host): string {
  return K3S_UNIT_PATHS[nodeKind(host)];
}

export function fingerprintOfService(s: DesiredService): string {
  return fingerprintOf(s) ?? '';
}
