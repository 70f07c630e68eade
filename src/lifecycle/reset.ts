/**
 * `reset <inventory> [--host h]`: run the reset playbook (playbooks/reset.yaml, steps in
 * src/steps/lifecycle/reset.ts) on every reachable target host. An unreachable host is reported
 * and makes the command fail after the others were reset. Resetting some etcd members of a
 * running cluster leaves them as stale members: the note says to use remove or replace instead.
 */
import { KubiError } from '../errors.js';
import { renderSummary } from '../engine/report.js';
import { etcdMembers } from '../render/cluster.js';
import type { Session } from './session.js';

export interface ResetOutcome {
  reset: string[];
  unreachable: string[];
}

export async function resetHosts(session: Session, hosts: readonly string[], opts: { print(line: string): void }): Promise<ResetOutcome> {
  const inv = session.inventory;
  const reachable = hosts.filter((h) => session.remotes.has(h));
  const unreachable = hosts.filter((h) => !session.remotes.has(h));
  const etcdHosts = etcdMembers(inv).map((h) => h.name);
  const partial = etcdHosts.filter((h) => hosts.includes(h));
  if (partial.length > 0 && partial.length < etcdHosts.length) {
    opts.print(`note: ${partial.join(', ')} ${partial.length === 1 ? 'is an etcd member' : 'are etcd members'} of a cluster that keeps running: the cluster still lists ${partial.length === 1 ? 'it' : 'them'}; to take a host out use remove, to rebuild it use replace`);
  }
  if (reachable.length > 0) {
    const result = await session.runPlaybook('reset', { hosts: reachable });
    opts.print(renderSummary(result));
    if (!result.ok) {
      throw new KubiError(result.failure?.error.code ?? 'reset-failed', `reset failed: ${result.failure ? `${result.failure.host}: ${result.failure.step}: ${result.failure.error.message}` : 'interrupted'}`, {
        hint: result.failure?.error.hint ?? 'run reset again',
      });
    }
  }
  if (unreachable.length > 0) {
    throw new KubiError('host-unreachable', `not reset (unreachable): ${unreachable.map((h) => `${h} (${session.unreachable.get(h) ?? 'no connection'})`).join(', ')}`, {
      hint: 'bring them back and run reset again, or wipe them by hand',
    });
  }
  return { reset: reachable, unreachable };
}
