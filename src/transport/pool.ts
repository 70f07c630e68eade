/**
 * Connect to every host of a run in parallel (one connection each, reused for the whole run),
 * sharing what should be done once: the key cache (a passphrase is asked once), ~/.ssh/config,
 * and the connections to jump hosts. If any host fails, the others are closed again and the
 * error names the failed host(s).
 */
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { KubiError } from '../errors.js';
import { redactor as globalRedactor } from '../redact.js';
import { KeyLoader } from './auth.js';
import { JumpConnections } from './connection.js';
import { KnownHostsFile } from './known-hosts.js';
import { parseSshConfig, type ParsedSshConfig } from './ssh-config.js';
import { SshHost, type TransportOptions } from './ssh.js';
import type { SshTarget } from './targets.js';
import type { TransportStats } from './types.js';

export interface HostPool {
  /** connected hosts by inventory name */
  readonly hosts: ReadonlyMap<string, SshHost>;
  /** the host named `name` (throws when it is not part of the pool) */
  get(name: string): SshHost;
  /** sums over every host plus the jump host connections */
  stats(): TransportStats;
  closeAll(): void;
}

/** Several hosts failed to connect; `failures` has each one's own error. */
export class ConnectHostsError extends KubiError {
  readonly failures: { host: string; error: KubiError }[];

  constructor(failures: { host: string; error: KubiError }[]) {
    const first = failures[0]!.error;
    super(first.code, `cannot connect to ${failures.length} hosts: ${failures.map((f) => `${f.host} (${f.error.message})`).join('; ')}`, {
      ...(first.hint ? { hint: first.hint } : {}),
      exitCode: first.exitCode,
    });
    this.name = 'ConnectHostsError';
    this.failures = failures;
  }
}

function asKubiError(e: unknown, host: string): KubiError {
  if (e instanceof KubiError) return e.withContext({ host });
  return new KubiError('ssh-connect-failed', `cannot connect to ${host}: ${e instanceof Error ? e.message : String(e)}`, { host, cause: e });
}

export async function connectHosts(targets: readonly SshTarget[], opts: TransportOptions): Promise<HostPool> {
  const env = opts.env ?? process.env;
  const redactor = opts.redactor ?? globalRedactor;
  const knownHosts = opts.knownHosts ?? (opts.stateDir ? KnownHostsFile.forStateDir(opts.stateDir) : null);
  if (!knownHosts) throw new KubiError('internal', 'connectHosts needs a state directory or a known_hosts file');
  const keys =
    opts.keys ?? new KeyLoader({ env, redactor, ...(opts.promptPassphrase ? { promptPassphrase: opts.promptPassphrase } : {}) });
  let sshConfig: ParsedSshConfig | null | undefined = opts.sshConfig;
  if (sshConfig === undefined && targets.some((t) => t.useSshConfig)) {
    const file = opts.sshConfigPath ?? path.join(env.HOME ?? os.homedir(), '.ssh', 'config');
    try {
      sshConfig = parseSshConfig(await fs.readFile(file, 'utf8'));
      for (const w of sshConfig.warnings) opts.log?.event(null, `${file}: ${w}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      sshConfig = null;
    }
  }
  const shared: TransportOptions = { ...opts, env, redactor, knownHosts, keys, sshConfig: sshConfig ?? null };
  const jumps = opts.jumps ?? new JumpConnections({ ...shared, knownHosts, keys });
  shared.jumps = jumps;

  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new KubiError('internal', `host ${t.name} appears twice in the connect list`);
    names.add(t.name);
  }

  const results = await Promise.allSettled(targets.map((t) => SshHost.connect(t, shared)));
  const hosts = new Map<string, SshHost>();
  const failures: { host: string; error: KubiError }[] = [];
  results.forEach((r, i) => {
    const name = targets[i]!.name;
    if (r.status === 'fulfilled') hosts.set(name, r.value);
    else failures.push({ host: name, error: asKubiError(r.reason, name) });
  });
  const closeAll = () => {
    for (const h of hosts.values()) h.close();
    if (!opts.jumps) jumps.closeAll();
  };
  if (failures.length > 0) {
    closeAll();
    throw failures.length === 1 ? failures[0]!.error : new ConnectHostsError(failures);
  }
  return {
    hosts,
    get(name: string): SshHost {
      const h = hosts.get(name);
      if (!h) throw new KubiError('internal', `host ${name} is not connected (known: ${[...hosts.keys()].join(', ')})`);
      return h;
    },
    stats(): TransportStats {
      const total: TransportStats = { connections: jumps.connections, roundTrips: 0, bytesSent: 0, bytesReceived: 0 };
      for (const h of hosts.values()) {
        const s = h.stats();
        total.connections += s.connections;
        total.roundTrips += s.roundTrips;
        total.bytesSent += s.bytesSent;
        total.bytesReceived += s.bytesReceived;
      }
      return total;
    },
    closeAll,
  };
}
