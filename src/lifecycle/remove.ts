/**
 * `remove <inventory> <host>`: take a host out of the cluster for good.
 *
 *  1. Kubernetes (when a k3s server runs): drain the node, delete its Node object;
 *  2. etcd (an etcd host): through a healthy OTHER member, remove its member - refused, with the
 *     numbers, when the members left could not form a majority, or would be an even number
 *     (unless --force), or when it is the last member;
 *  3. reset the host (the reset playbook on it alone) when it is reachable;
 *  4. tell the user what to delete from the inventory, and that the next `up` then drops the
 *     host from the other hosts' configuration (members restarted one at a time).
 */
import { KubiError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { etcdMembers, findHost, hasRole } from '../render/cluster.js';
import { renderSummary } from '../engine/report.js';
import { describeProbes, findHealthyMember, memberOf, memberViews, removeMember, viewsFromProbes } from '../steps/lifecycle/etcd-cluster.js';
import { assessRemove, refusalHint } from '../steps/lifecycle/quorum.js';
import { deleteNodeObject, drainNode, findRunningServer } from './kubernetes.js';
import type { Session } from './session.js';

export interface RemoveOptions {
  force?: boolean;
  print(line: string): void;
}

export interface RemoveOutcome {
  removedMember: string | null;
  reset: boolean;
  /** what the user still has to do */
  nextSteps: string[];
}

/** Pure: what the user does after a remove. */
export function nextStepsAfterRemove(inv: Inventory, inventoryPath: string, hostName: string): string[] {
  const left = etcdMembers(inv).filter((h) => h.name !== hostName).length;
  const wasEtcd = etcdMembers(inv).some((h) => h.name === hostName);
  const steps = [`delete the entry of ${hostName} under hosts: in ${inventoryPath}`];
  if (wasEtcd && left % 2 === 0 && !inv.etcd.allowEvenMembers) {
    steps.push(`${left} etcd members are left (an even number): add a member, or set etcd.allowEvenMembers: true in the inventory`);
  }
  steps.push(`then run kubi-provision up ${inventoryPath}: the other hosts stop naming ${hostName} (etcd members restart one at a time)`);
  steps.push(`until then, do not run up with ${hostName} still in the inventory: it would join the cluster again`);
  return steps;
}

export async function removeHost(session: Session, hostName: string, opts: RemoveOptions): Promise<RemoveOutcome> {
  const inv = session.inventory;
  const host = findHost(inv, hostName);
  const print = opts.print;

  // etcd first decides whether the removal is possible at all (nothing is touched before)
  let etcdPlan: { via: { name: string; remote: NonNullable<ReturnType<typeof session.remotes.get>> }; id: string } | null = null;
  if (hasRole(host, 'etcd')) {
    const others = etcdMembers(inv)
      .filter((h) => h.name !== host.name)
      .map((h) => ({ name: h.name, remote: session.remotes.get(h.name) }));
    const found = await findHealthyMember(others, inv);
    if (!found.via) {
      const a = assessRemove(viewsFromProbes(found.probes, inv), host.name, { force: opts.force === true });
      throw new KubiError('etcd-quorum', `refusing to remove ${host.name}: ${a.ok ? `no other etcd member is healthy (${describeProbes(found.probes)})` : a.reason}`, {
        host: host.name,
        hint: a.ok ? 'bring another member back first' : refusalHint(a),
      });
    }
    const member = memberOf(found.view, host);
    if (member) {
      const a = assessRemove(memberViews(found.view, inv), host.name, { force: opts.force === true });
      if (!a.ok) throw new KubiError('etcd-quorum', `refusing to remove ${host.name}: ${a.reason}`, { host: host.name, hint: refusalHint(a) });
      for (const n of a.notes) session.say(`etcd: ${n}`);
      etcdPlan = { via: found.via, id: member.id };
    } else {
      print(`etcd: ${host.name} is not a member (already removed)`);
    }
  }

  if (hasRole(host, 'server') || hasRole(host, 'agent')) {
    const server = await findRunningServer(inv, session.remotes, host.name);
    if (server) {
      print(`kubernetes: draining ${host.name} through ${server.name}`);
      await drainNode(server, host.name);
      print(`kubernetes: ${await deleteNodeObject(server, host.name)}`);
    } else {
      print('kubernetes: no other k3s server runs: nothing to drain (not applicable)');
    }
  }

  if (etcdPlan) {
    print(`etcd: removing member ${host.name} (${etcdPlan.id}) through ${etcdPlan.via.name}`);
    await removeMember(etcdPlan.via, etcdPlan.id, session.pace);
  }

  let reset = false;
  if (session.remotes.has(host.name)) {
    const result = await session.runPlaybook('reset', { hosts: [host.name] });
    print(`reset ${host.name}: ${renderSummary(result).split('\n')[0]}`);
    if (!result.ok) {
      throw new KubiError('reset-failed', `${host.name} left the cluster but its reset failed: ${result.failure?.error.message ?? 'interrupted'}`, {
        host: host.name,
        hint: `run kubi-provision reset <inventory> --host ${host.name} --yes again`,
      });
    }
    reset = true;
  } else {
    print(`${host.name} is unreachable (${session.unreachable.get(host.name) ?? 'no connection'}): it was not reset; wipe it before you use it again`);
  }
  return { removedMember: etcdPlan?.id ?? null, reset, nextSteps: nextStepsAfterRemove(inv, session.inventoryPath, host.name) };
}
