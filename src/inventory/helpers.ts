/**
 * Small pure helpers other modules need from an inventory: hosts by role, the cluster DNS
 * address, the effective SSH settings of a host (cluster defaults merged with per-host overrides,
 * `~` expanded), and local path resolution (relative to the inventory file).
 */
import os from 'node:os';
import path from 'node:path';
import { formatIPv4, networkOf, parseCidr } from './ipv4.js';
import type { Host, Inventory, Role } from './schema.js';

/** The hosts that have a role, in inventory order. */
export function hostsWithRole(inv: Inventory, role: Role): Host[] {
  return inv.hosts.filter((h) => h.roles.includes(role));
}

/** `network.clusterDns`, or the 10th address of the service CIDR (10.43.0.10 for 10.43.0.0/16). */
export function resolveClusterDns(inv: Inventory): string {
  if (inv.network.clusterDns) return inv.network.clusterDns;
  const service = parseCidr(inv.network.serviceCidr);
  if (!service) throw new Error(`invalid service CIDR ${inv.network.serviceCidr} in a validated inventory`);
  return formatIPv4(networkOf(service) + 10);
}

/** SSH settings of one host with every default filled in. */
export interface EffectiveSsh {
  user: string;
  port: number;
  /** absolute path (`~` expanded) or undefined: then the agent and/or ~/.ssh/config are used */
  privateKey: string | undefined;
  /** use ssh-agent when $SSH_AUTH_SOCK is set */
  agent: boolean;
  /** run commands through `sudo -n` (default: when the user is not root) */
  sudo: boolean;
  /** ProxyJump as [user@]host[:port] */
  jumpHost: string | undefined;
  useSshConfig: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const SSH_DEFAULTS = {
  user: 'root',
  port: 22,
  agent: true,
  useSshConfig: false,
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 300_000,
} as const;

export interface PathOptions {
  /** home directory for `~` (default: os.homedir()) */
  homeDir?: string;
  /** directory relative paths are resolved against (default: leave them relative) */
  baseDir?: string;
}

/** Expand a leading `~` or `~/`; other paths are returned as they are. */
export function expandHome(p: string, homeDir: string = os.homedir()): string {
  if (p === '~') return homeDir;
  if (p.startsWith('~/')) return path.join(homeDir, p.slice(2));
  return p;
}

/** `~` expanded, then resolved against baseDir when given and the path is relative. */
export function resolveLocalPath(p: string, opts: PathOptions = {}): string {
  const expanded = expandHome(p, opts.homeDir);
  if (opts.baseDir !== undefined && !path.isAbsolute(expanded)) return path.resolve(opts.baseDir, expanded);
  return expanded;
}

/** Cluster-wide SSH defaults merged with the host's overrides (a host value wins key by key). */
export function effectiveSsh(inv: Inventory, host: Host, opts: PathOptions = {}): EffectiveSsh {
  const merged = { ...inv.ssh, ...definedOnly(host.ssh ?? {}) };
  const user = merged.user ?? SSH_DEFAULTS.user;
  return {
    user,
    port: merged.port ?? SSH_DEFAULTS.port,
    privateKey: merged.privateKey === undefined ? undefined : resolveLocalPath(merged.privateKey, opts),
    agent: merged.agent ?? SSH_DEFAULTS.agent,
    sudo: merged.sudo ?? user !== 'root',
    jumpHost: merged.jumpHost,
    useSshConfig: merged.useSshConfig ?? SSH_DEFAULTS.useSshConfig,
    connectTimeoutMs: merged.connectTimeoutMs ?? SSH_DEFAULTS.connectTimeoutMs,
    commandTimeoutMs: merged.commandTimeoutMs ?? SSH_DEFAULTS.commandTimeoutMs,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The inventory with every local path (state dir, keys, artifact dirs) absolute: `~` expanded, relative to baseDir. */
export function resolveInventoryPaths(inv: Inventory, opts: PathOptions & { baseDir: string }): Inventory {
  const local = (p: string | undefined) => (p === undefined ? undefined : resolveLocalPath(p, opts));
  const ssh = <S extends { privateKey?: string | undefined }>(s: S): S =>
    s.privateKey === undefined ? s : { ...s, privateKey: local(s.privateKey) };
  return {
    ...inv,
    cluster: inv.cluster.stateDir === undefined ? inv.cluster : { ...inv.cluster, stateDir: local(inv.cluster.stateDir) },
    ssh: ssh(inv.ssh),
    artifacts: {
      ...inv.artifacts,
      ...(inv.artifacts.dir !== undefined ? { dir: local(inv.artifacts.dir) } : {}),
      ...(inv.artifacts.cacheDir !== undefined ? { cacheDir: local(inv.artifacts.cacheDir) } : {}),
    },
    hosts: inv.hosts.map((h) => (h.ssh ? { ...h, ssh: ssh(h.ssh) } : h)),
  };
}

/** The state directory: cluster.stateDir (relative to the inventory) or .kubi/<name> beside the inventory. */
export function resolveStateDir(inv: Inventory, opts: PathOptions & { baseDir: string }): string {
  if (inv.cluster.stateDir !== undefined) return resolveLocalPath(inv.cluster.stateDir, opts);
  return path.join(opts.baseDir, '.kubi', inv.cluster.name);
}
