/**
 * `replace <inventory> <host>`: a host came back with the same name after a hardware change or a
 * reinstall (new disk, new host key, maybe a new address). In order:
 *
 *  1. (the CLI) the user confirms; the host's old SSH key is forgotten, the new one recorded;
 *  2. a healthy etcd member is found by asking EVERY other member (any one can seed: the first
 *     inventory host is not special); the operation is refused, with the numbers, when it would
 *     need a majority that is not there (e.g. 2 of 3 members down);
 *  3. the host's stale etcd member is removed (by name, or by its peer URL), through that member;
 *     old data still on the host is moved aside, never deleted;
 *  4. the stale Kubernetes Node object is deleted when a k3s server runs;
 *  5. `up` runs for the host alone: host preparation, certificates (reissued when its address
 *     changed), etcd files, then etcd.members adds it back (learner, start with state existing,
 *     promote, healthy voter), then containerd/CNI/endpoint/k3s (k3s: not applicable without a
 *     binary);
 *  6. when the address changed, `up` runs on the other reachable hosts too (configs that name it);
 *  7. the member list is checked: every member healthy, the host a voter.
 */
import { KubiError } from '../errors.js';
import type { Selection } from '../engine/select.js';
import type { Host } from '../inventory/schema.js';
import { etcdMembers, findHost, hasRole } from '../render/cluster.js';
import { etcdPeerUrl } from '../render/etcd.js';
import { quoteWord } from '../transport/quote.js';
import {
  describeProbes,
  findHealthyMember,
  memberViews,
  readClusterView,
  removeMember,
  viewsFromProbes,
  type ClusterView,
  type Via,
} from '../steps/lifecycle/etcd-cluster.js';
import { moveDataAsideShell } from '../steps/lifecycle/data-dir.js';
import { assessReplace, refusalHint } from '../steps/lifecycle/quorum.js';
import { deleteNodeObject, findRunningServer } from './kubernetes.js';
import { runUpPhase } from './phases.js';
import type { Session } from './session.js';

export interface ReplaceOptions {
  selection?: Selection;
  /** the address the host had before (from the forgotten known_hosts entry), when known */
  previousAddress?: string | null;
  /** results (stdout) */
  print(line: string): void;
}

export interface ReplaceOutcome {
  removedMembers: string[];
  addressChanged: boolean;
  k3sNotApplicable: string | null;
}

export function compactStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Stop etcd on the host and move old data aside (a reinstall usually has none; a "replace" of a host with broken data has some). */
export async function setAsideOldData(session: Session, host: Host): Promise<string | null> {
  const remote = session.remotes.get(host.name);
  if (!remote) return null;
  const dataDir = session.inventory.etcd.dataDir;
  const aside = `${dataDir}.replaced-${compactStamp(session.pace.now())}`;
  const res = await remote.script(`if [ -d ${quoteWord(`${dataDir}/member`)} ]; then systemctl stop etcd.service 2>/dev/null || true; fi\n${moveDataAsideShell(dataDir, aside)}`, {
    mutating: true,
    label: 'move old etcd data aside',
  });
  return res.stdout.includes('moved') ? aside : null;
}

/** Members that belong to `host`: its name, or the peer URL it will use. */
export function staleMembersOf(view: Pick<ClusterView, 'members'>, host: Host): ClusterView['members'] {
  const url = etcdPeerUrl(host);
  return view.members.filter((m) => m.name === host.name || m.peerURLs.includes(url));
}

async function replaceEtcdMember(session: Session, host: Host, print: (l: string) => void): Promise<{ via: Via; removed: string[]; oldPeerUrls: string[] }> {
  const inv = session.inventory;
  const others = etcdMembers(inv)
    .filter((h) => h.name !== host.name)
    .map((h) => ({ name: h.name, remote: session.remotes.get(h.name) }));
  const found = await findHealthyMember(others, inv);
  if (!found.via) {
    const a = assessReplace(viewsFromProbes(found.probes, inv, host.name), host.name);
    const reason = a.ok ? `no other etcd member is healthy (${describeProbes(found.probes)})` : a.reason;
    throw new KubiError('etcd-quorum', `refusing to replace ${host.name}: ${reason}`, {
      host: host.name,
      hint: a.ok ? 'bring another member back first' : refusalHint(a),
    });
  }
  const { via, view } = found;
  const a = assessReplace(memberViews(view, inv), host.name);
  if (!a.ok) throw new KubiError('etcd-quorum', `refusing to replace ${host.name}: ${a.reason}`, { host: host.name, hint: refusalHint(a) });
  print(`etcd: working through ${via.name} (asked: ${describeProbes(found.probes)})`);
  for (const n of a.notes) session.say(`etcd: ${n}`);

  const moved = await setAsideOldData(session, host);
  if (moved) print(`etcd: ${host.name} still had etcd data: stopped etcd and moved it to ${moved}`);

  const stale = staleMembersOf(view, host);
  const removed: string[] = [];
  const oldPeerUrls: string[] = [];
  for (const m of stale) {
    print(`etcd: removing the stale member ${m.name || '(unstarted)'} ${m.id} (${m.peerURLs.join(',')}) through ${via.name}`);
    await removeMember(via, m.id, session.pace);
    removed.push(m.id);
    oldPeerUrls.push(...m.peerURLs);
  }
  if (stale.length === 0) print(`etcd: ${host.name} is not a member any more (nothing stale to remove)`);
  return { via, removed, oldPeerUrls };
}

export async function replaceHost(session: Session, hostName: string, opts: ReplaceOptions): Promise<ReplaceOutcome> {
  const inv = session.inventory;
  const host = findHost(inv, hostName);
  const print = opts.print;
  if (!session.remotes.has(host.name)) {
    throw new KubiError('host-unreachable', `cannot reach ${host.name} at ${host.address}: ${session.unreachable.get(host.name) ?? 'no connection'}`, {
      host: host.name,
      hint: 'replace needs the rebuilt host up and reachable over SSH (check its address in the inventory)',
    });
  }
  const selection = opts.selection ?? {};

  let etcd: Awaited<ReturnType<typeof replaceEtcdMember>> | null = null;
  if (hasRole(host, 'etcd')) etcd = await replaceEtcdMember(session, host, print);

  if (hasRole(host, 'server') || hasRole(host, 'agent')) {
    const server = await findRunningServer(inv, session.remotes, host.name);
    if (server) print(`kubernetes: ${await deleteNodeObject(server, host.name)} (through ${server.name})`);
    else print('kubernetes: no k3s server runs: no stale node object to delete (not applicable)');
  }

  const phase = await runUpPhase(session, `prepare and rejoin ${host.name}`, [host.name], selection, print);

  const newUrl = etcdPeerUrl(host);
  const addressChanged =
    (opts.previousAddress != null && opts.previousAddress !== host.address) || (etcd !== null && etcd.oldPeerUrls.some((u) => u !== newUrl));
  if (addressChanged) {
    const others = inv.hosts.map((h) => h.name).filter((n) => n !== host.name && session.remotes.has(n));
    const skipped = inv.hosts.map((h) => h.name).filter((n) => n !== host.name && !session.remotes.has(n));
    print(`${host.name} has a new address (${host.address}): updating the other hosts' configuration that names it`);
    if (others.length > 0) await runUpPhase(session, 'update the other hosts', others, selection, print);
    if (skipped.length > 0) print(`not reachable now, run up once they are back: ${skipped.join(', ')}`);
  }

  if (etcd) {
    const view = await readClusterView(etcd.via, inv);
    const views = memberViews(view, inv);
    print(`etcd members: ${views.map((v) => `${v.name} ${v.health}${v.isLearner ? ' (learner)' : ''}`).join(', ')}`);
    const me = views.find((v) => v.name === host.name);
    if (selection.until === undefined || me) {
      if (!me || me.isLearner || me.health !== 'healthy') {
        throw new KubiError('etcd-replace-incomplete', `${host.name} is not a healthy voting etcd member after the replace`, {
          host: host.name,
          hint: 'run up again; check journalctl -u etcd on the host',
        });
      }
    }
  }
  print(`${host.name} replaced`);
  return { removedMembers: etcd?.removed ?? [], addressChanged, k3sNotApplicable: phase.k3sNotApplicable };
}
