/**
 * SshTarget: what the transport needs to reach one host, and the mapping from the inventory
 * (cluster-wide `ssh:` defaults, overridden per host by `hosts[].ssh`). Pure.
 *
 * Fields left undefined are filled later, in this order: ~/.ssh/config (when useSshConfig),
 * then the defaults (port 22, user root, keys: agent if SSH_AUTH_SOCK is set, then
 * ~/.ssh/id_ed25519, id_ecdsa, id_rsa). See resolve.ts.
 */
import path from 'node:path';
import type { Host, Inventory, SshSettings } from '../inventory/schema.js';

export interface SshTarget {
  /** inventory name: names the host in errors, logs and known_hosts */
  name: string;
  /** address of the host (the one the cluster uses); ssh config HostName may redirect the connection */
  address: string;
  port?: number;
  user?: string;
  /** private key file; ~ expands */
  privateKeyPath?: string;
  /** use ssh-agent ($SSH_AUTH_SOCK) */
  agent?: boolean;
  /** run commands through sudo (default: when user is not root) */
  sudo?: boolean;
  /** ProxyJump `[user@]host[:port]`, or a comma-separated chain (first hop first) */
  jumpHost?: string;
  /** read ~/.ssh/config Host entries */
  useSshConfig?: boolean;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** Cluster defaults overridden by the host's own settings, key by key. */
export function mergeSshSettings(cluster: SshSettings | undefined, host: SshSettings | undefined): SshSettings {
  const out: SshSettings = { ...(cluster ?? {}) };
  for (const [k, v] of Object.entries(host ?? {})) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export interface TargetOptions {
  /** directory relative key paths are resolved against (the inventory's directory); default: as written */
  baseDir?: string;
}

export function targetFor(inv: Inventory, host: Host, opts: TargetOptions = {}): SshTarget {
  const s = mergeSshSettings(inv.ssh, host.ssh);
  const t: SshTarget = { name: host.name, address: host.address };
  if (s.port !== undefined) t.port = s.port;
  if (s.user !== undefined) t.user = s.user;
  if (s.privateKey !== undefined) t.privateKeyPath = resolveKeyPath(s.privateKey, opts.baseDir);
  if (s.agent !== undefined) t.agent = s.agent;
  if (s.sudo !== undefined) t.sudo = s.sudo;
  if (s.jumpHost !== undefined) t.jumpHost = s.jumpHost;
  if (s.useSshConfig !== undefined) t.useSshConfig = s.useSshConfig;
  if (s.connectTimeoutMs !== undefined) t.connectTimeoutMs = s.connectTimeoutMs;
  if (s.commandTimeoutMs !== undefined) t.commandTimeoutMs = s.commandTimeoutMs;
  return t;
}

export function targetsFromInventory(inv: Inventory, opts: TargetOptions = {}): SshTarget[] {
  return inv.hosts.map((h) => targetFor(inv, h, opts));
}

/** `~` stays for the transport to expand; relative paths resolve against baseDir when given. */
function resolveKeyPath(p: string, baseDir: string | undefined): string {
  if (p === '~' || p.startsWith('~/') || path.isAbsolute(p) || baseDir === undefined) return p;
  return path.resolve(baseDir, p);
}
