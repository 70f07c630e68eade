/**
 * Connecting for `verify`: unlike `up`, an unreachable host must not stop the run. It becomes a
 * failed "ssh works" row and the checks on it "not run". connectHosts fails as a whole when a host
 * fails, so on failure the hosts that did connect are connected again without the failed ones.
 * A host-key mismatch is a failure like any other here (never accepted silently).
 */
import { describeError, isKubiError, type KubiError } from '../errors.js';
import { ConnectHostsError, connectHosts, type HostPool, type SshTarget, type TransportOptions } from '../transport/index.js';
import type { RemoteHost } from '../transport/types.js';

export interface VerifyConnections {
  remotes: Map<string, RemoteHost>;
  /** host -> why it could not be reached (one line) */
  unreachable: Map<string, string>;
  closeAll(): void;
}

/** The one-line reason, with the hint for host-key problems (what to run is the useful part there). */
function reason(e: KubiError): string {
  return e.code.startsWith('host-key') && e.hint ? `${e.message}; ${e.hint}` : e.message;
}

export type ConnectFn = (targets: readonly SshTarget[], opts: TransportOptions) => Promise<HostPool>;

export async function connectForVerify(targets: readonly SshTarget[], opts: TransportOptions, connect: ConnectFn = connectHosts): Promise<VerifyConnections> {
  const unreachable = new Map<string, string>();
  let pool: HostPool | null = null;
  try {
    pool = await connect(targets, opts);
  } catch (e) {
    const failures =
      e instanceof ConnectHostsError
        ? e.failures.map((f) => ({ host: f.host, message: reason(f.error) }))
        : isKubiError(e) && e.host
          ? [{ host: e.host, message: reason(e) }]
          : null;
    if (!failures) throw e;
    for (const f of failures) unreachable.set(f.host, f.message);
    const rest = targets.filter((t) => !unreachable.has(t.name));
    if (rest.length > 0) {
      try {
        pool = await connect(rest, opts);
      } catch (e2) {
        // a host that connected a moment ago failed now: report every remaining host as unreachable
        for (const t of rest) unreachable.set(t.name, describeError(e2));
      }
    }
  }
  const remotes = new Map<string, RemoteHost>(pool ? [...pool.hosts.entries()] : []);
  return { remotes, unreachable, closeAll: () => pool?.closeAll() };
}
