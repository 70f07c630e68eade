/**
 * `etcd.members` (serial, before etcd.start): keeps the etcd MEMBERSHIP in line with the
 * inventory once the cluster exists, one member at a time.
 *
 *  - a host with etcd data or a running member: nothing to do, except a member that is still a
 *    learner (an interrupted join: promote it) or whose peer URL differs from the inventory's
 *    (its address changed: `member update`, then a restart on the new address, see etcd-move.ts);
 *  - a fresh host (no data, not running) while NO other member is healthy: nothing here, this is
 *    a new cluster and etcd.start bootstraps it (initial-cluster-state new);
 *  - a fresh host while another member is healthy: it JOINS (see etcd-join.ts: learner, start
 *    with state existing, promote, wait) - the "added to the inventory" case;
 *  - a fresh host that the cluster still lists as a started member: refused, that host was
 *    rebuilt and its stale member must go first (`kubi-provision replace`), never a silent
 *    second cluster or an empty member rejoining under an old identity.
 *
 * The check works through the OTHER members' connections (cluster.services.remotes, see
 * peers.ts): a fresh host has no etcdctl yet in plan mode.
 */
import { KubiError } from '../../errors.js';
import type { Change, Step, StepContext } from '../../engine/types.js';
import type { Host, Inventory } from '../../inventory/schema.js';
import { etcdMembers } from '../../render/cluster.js';
import { etcdPeerUrl } from '../../render/etcd.js';
import { quoteWord } from '../../transport/quote.js';
import type { RemoteHost } from '../../transport/types.js';
import { SECTION_FN, sections } from '../host/script.js';
import { etcdctlShell, parseMemberList, type Member } from '../etcd/etcdctl.js';
import { ETCD_UNIT } from '../etcd/health.js';
import {
  describeProbes,
  findHealthyMember,
  memberOf,
  memberViews,
  promoteMember,
  supportsLearners,
  type ClusterView,
  type SeedProbe,
  type Via,
} from './etcd-cluster.js';
import { joinCluster } from './etcd-join.js';
import { moveMember } from './etcd-move.js';
import { peerRemotes } from './peers.js';
import { assessAdd, refusalHint } from './quorum.js';

export const JOIN_TITLE = 'join the running etcd cluster';
export const PROMOTE_TITLE = 'promote this learner to a voting member';
export const UPDATE_PEER_TITLE = 'update this member\'s peer URL';

export interface MembersObserved {
  active: boolean;
  hasData: boolean;
  /** the member list as the local member sees it (running hosts only; null when unreadable) */
  localMembers: Member[] | null;
  /** fresh hosts only: the cluster through a healthy peer, or the peers' probes when none is healthy */
  cluster: { view: ClusterView; probes: SeedProbe[] } | { view: null; probes: SeedProbe[] } | null;
}

function localScript(dataDir: string): string {
  return `${SECTION_FN}
state=$(systemctl is-active ${ETCD_UNIT} 2>/dev/null)
s unit; echo "$state"
s data; if [ -d ${quoteWord(`${dataDir}/member`)} ]; then echo yes; else echo no; fi
if [ "$state" = active ]; then s members; ${etcdctlShell(['member', 'list', '-w', 'json'], { commandTimeout: '4s' })} 2>/dev/null; fi
true
`;
}

export function parseLocal(out: string): Omit<MembersObserved, 'cluster'> {
  const sec = sections(out);
  const unit = sec('unit').trim();
  return { active: unit === 'active' || unit === 'activating' || unit === 'reloading', hasData: sec('data').trim() === 'yes', localMembers: parseMemberList(sec('members')) };
}

/** The other etcd hosts of the inventory with their connections (if any). */
function otherMembers(ctx: Pick<StepContext, 'cluster' | 'host'>): { name: string; remote: RemoteHost | undefined }[] {
  const peers = peerRemotes(ctx.cluster);
  return etcdMembers(ctx.cluster.inventory)
    .filter((h) => h.name !== ctx.host.name)
    .map((h) => ({ name: h.name, remote: peers.get(h.name) }));
}

/** Pure plan of etcd.members. */
export function planMembers(o: MembersObserved, inv: Inventory, host: Host): Change[] {
  if (o.active || o.hasData) {
    const me = o.localMembers?.find((m) => m.name === host.name);
    if (!me) return [];
    const changes: Change[] = [];
    const want = etcdPeerUrl(host);
    if (me.peerURLs.length !== 1 || me.peerURLs[0] !== want) {
      changes.push({
        kind: 'action',
        title: UPDATE_PEER_TITLE,
        detail: [`from ${me.peerURLs.join(',')} to ${want}`, 'then restart this member on its new address and wait until it answers healthy'],
        shell: `etcdctl member update ${me.id} --peer-urls=${want} && systemctl restart etcd`,
      });
    }
    if (me.isLearner) changes.push({ kind: 'action', title: PROMOTE_TITLE, shell: `etcdctl member promote ${me.id}` });
    return changes;
  }
  if (!o.cluster || !o.cluster.view) return []; // no healthy member elsewhere: a new cluster (etcd.start bootstraps it)
  const view = o.cluster.view;
  const member = memberOf(view, host);
  if (member && member.name !== '') {
    throw new KubiError('etcd-stale-member', `${host.name} has no etcd data, but the running cluster still lists it as started member ${member.id}`, {
      host: host.name,
      hint: `the host was rebuilt or its data was lost: run kubi-provision replace <inventory> ${host.name} (removes the stale member, then adds the host back)`,
    });
  }
  const learner = supportsLearners(view.version || inv.versions.etcd);
  if (!member) {
    const a = assessAdd(memberViews(view, inv), host.name);
    if (!a.ok) throw new KubiError('etcd-quorum', a.reason, { host: host.name, hint: refusalHint(a) });
  }
  const detail = [
    `through ${view.via} (healthy)`,
    member ? `the member was added before (id ${member.id}), never started: start it` : `etcdctl member add ${host.name} --peer-urls=${etcdPeerUrl(host)}${learner ? ' --learner' : ''}`,
    'start etcd with initial-cluster-state existing and the current members as the initial cluster (a transient drop-in)',
    ...(learner ? ['promote the learner once it has caught up'] : []),
    'wait until it is a healthy voting member',
  ];
  return [{ kind: 'action', title: JOIN_TITLE, detail }];
}

export const etcdMembersStep: Step<MembersObserved> = {
  id: 'etcd.members',
  title: 'Add etcd members the running cluster does not have yet, one at a time',
  async check(ctx) {
    const res = await ctx.remote.script(localScript(ctx.cluster.inventory.etcd.dataDir), { mutating: false, label: 'observe the etcd member', allowFailure: true });
    const local = parseLocal(res.stdout);
    if (local.active || local.hasData) return { ...local, cluster: null };
    const found = await findHealthyMember(otherMembers(ctx), ctx.cluster.inventory);
    return { ...local, cluster: found.view ? { view: found.view, probes: found.probes } : { view: null, probes: found.probes } };
  },
  plan(observed, ctx) {
    if (observed.cluster && !observed.cluster.view && observed.cluster.probes.length > 0) {
      ctx.report(`no healthy etcd member elsewhere (${describeProbes(observed.cluster.probes)}): a new cluster`);
    }
    return planMembers(observed, ctx.cluster.inventory, ctx.host);
  },
  async apply(changes, ctx) {
    const pace = { now: () => ctx.cluster.now(), sleep: (ms: number) => ctx.cluster.sleep(ms), signal: ctx.cluster.signal };
    const titles = new Set(changes.map((c) => (c.kind === 'action' ? c.title : '')));
    if (titles.has(JOIN_TITLE)) {
      const found = await findHealthyMember(otherMembers(ctx), ctx.cluster.inventory);
      if (!found.via) {
        throw new KubiError('etcd-no-healthy-member', `no healthy etcd member to join through: ${describeProbes(found.probes)}`, {
          host: ctx.host.name,
          hint: 'bring the other members back, then run up again',
        });
      }
      await joinCluster(ctx, found.via);
      return;
    }
    // a running member: promotions work through itself (it is part of the quorum that decides)
    const via: Via = { name: ctx.host.name, remote: ctx.remote };
    const res = await ctx.remote.script(localScript(ctx.cluster.inventory.etcd.dataDir), { mutating: false, label: 'observe the etcd member', allowFailure: true });
    const me = parseLocal(res.stdout).localMembers?.find((m) => m.name === ctx.host.name);
    if (!me) throw new KubiError('etcd-member-list', 'cannot read this member from the member list', { host: ctx.host.name });
    if (titles.has(UPDATE_PEER_TITLE)) await moveMember(ctx, me.id, otherMembers(ctx));
    if (titles.has(PROMOTE_TITLE)) await promoteMember(via, me.id, pace, 120_000);
  },
};
