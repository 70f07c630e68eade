/**
 * Joining ONE host to a running etcd cluster, the way etcd documents it: (1) through a healthy
 * member, `member add --learner` (3.4+; a plain voter before), unless the member was already
 * added; (2) start etcd on the host with `initial-cluster-state=existing` and an initial cluster
 * that lists the current members and itself; (3) promote the learner once it caught up (retried);
 * (4) wait until it is a healthy voter. The join settings go into a transient systemd drop-in
 * (/run, an extra EnvironmentFile read after /etc/etcd/etcd.env), removed once the member has
 * joined: etcd ignores the initial-* settings from then on, so the member's files stay exactly
 * what `up` renders and a later `up` plans nothing. A member that fails to join is stopped, its
 * partial data directory moved aside, so the next run starts over cleanly.
 */
import { KubiError } from '../../errors.js';
import type { StepContext } from '../../engine/types.js';
import { etcdClientUrl } from '../../render/etcd.js';
import { quoteWord } from '../../transport/quote.js';
import { SECTION_FN, lines, parseKeyValues, sections } from '../host/script.js';
import { FINGERPRINT_DIR } from '../lib/index.js';
import { ETCD_FINGERPRINT_PATH, etcdDesired } from '../etcd/desired.js';
import { ETCD_UNIT, etcdWaitTimeoutMs } from '../etcd/health.js';
import {
  addMember,
  initialClusterOf,
  memberOf,
  memberViews,
  promoteMember,
  readClusterView,
  supportsLearners,
  type Pace,
  type Via,
} from './etcd-cluster.js';
import { moveDataAsideShell } from './data-dir.js';
import { assessAdd, refusalHint } from './quorum.js';

export const JOIN_ENV_PATH = '/run/kubi-provision/etcd-join.env';
export const JOIN_DROPIN_PATH = '/run/systemd/system/etcd.service.d/50-kubi-join.conf';

/** Pure: the transient files that make etcd start as a joining member. */
export function joinFiles(initialCluster: string): { env: string; dropIn: string } {
  return {
    env: `# written by kubi-provision while this member joins a running cluster; removed once it has joined\nETCD_INITIAL_CLUSTER=${initialCluster}\nETCD_INITIAL_CLUSTER_STATE=existing\n`,
    dropIn: `# kubi-provision: join a running cluster (transient: /run)\n[Service]\nEnvironmentFile=${JOIN_ENV_PATH}\n`,
  };
}

/** The shell that writes the join files, records the fingerprint, enables and starts etcd without waiting. */
export function startJoiningScript(initialCluster: string, dataDir: string, fingerprint: string): string {
  const f = joinFiles(initialCluster);
  return `set -eu
umask 022
mkdir -p /run/kubi-provision /run/systemd/system/etcd.service.d
printf '%s' ${quoteWord(f.env)} > ${quoteWord(JOIN_ENV_PATH)}
printf '%s' ${quoteWord(f.dropIn)} > ${quoteWord(JOIN_DROPIN_PATH)}
install -d -m 0700 -o root -g root ${quoteWord(dataDir)}
install -d -m 0755 ${quoteWord(FINGERPRINT_DIR)}
printf '%s\\n' ${quoteWord(fingerprint)} > ${quoteWord(ETCD_FINGERPRINT_PATH)}
systemctl daemon-reload
systemctl enable ${ETCD_UNIT} >/dev/null 2>&1
systemctl start --no-block ${ETCD_UNIT}
`;
}

export function removeJoinFilesScript(): string {
  return `rm -f ${quoteWord(JOIN_DROPIN_PATH)} ${quoteWord(JOIN_ENV_PATH)}
rmdir /run/systemd/system/etcd.service.d 2>/dev/null || true
systemctl daemon-reload
`;
}

/** A join that failed: stop the member and move its partial data directory aside (never deleted). */
export function abandonJoinScript(dataDir: string, stamp: string): string {
  return `systemctl stop ${ETCD_UNIT} || true
${moveDataAsideShell(dataDir, `${dataDir}.failed-join-${stamp}`)}
${removeJoinFilesScript()}`;
}

interface LocalUnit {
  activeState: string;
  subState: string;
  nRestarts: number;
  journal: string;
}

function localUnitScript(): string {
  return `${SECTION_FN}
s unit; systemctl show -p ActiveState -p SubState -p NRestarts ${ETCD_UNIT} 2>/dev/null
if [ "$(systemctl is-active ${ETCD_UNIT} 2>/dev/null)" != active ]; then s journal; journalctl -u ${ETCD_UNIT} -n 8 --no-pager -o cat 2>/dev/null; fi
true
`;
}

function parseLocalUnit(out: string): LocalUnit {
  const sec = sections(out);
  const kv = parseKeyValues(sec('unit'));
  return {
    activeState: kv.get('ActiveState') ?? 'unknown',
    subState: kv.get('SubState') ?? 'unknown',
    nRestarts: Number(kv.get('NRestarts') ?? 0) || 0,
    journal: lines(sec('journal')).slice(-8).join(' | '),
  };
}

/** Join `ctx.host` to the cluster through `via` (see the file header). */
export async function joinCluster(ctx: StepContext, via: Via): Promise<void> {
  const { cluster, host } = ctx;
  const inv = cluster.inventory;
  const pace: Pace = { now: () => cluster.now(), sleep: (ms) => cluster.sleep(ms), signal: cluster.signal };
  const view = await readClusterView(via, inv);
  const learner = supportsLearners(view.version || inv.versions.etcd);
  let member = memberOf(view, host);
  let members = view.members;
  if (member && member.name !== '') {
    throw new KubiError('etcd-stale-member', `${host.name} has no etcd data but the cluster still has it as member ${member.id}`, {
      host: host.name,
      hint: `the host was rebuilt: run kubi-provision replace <inventory> ${host.name}`,
    });
  }
  if (!member) {
    const a = assessAdd(memberViews(view, inv), host.name);
    if (!a.ok) throw new KubiError('etcd-quorum', a.reason, { host: host.name, hint: refusalHint(a) });
    ctx.report(`adding ${host.name} to the etcd cluster${learner ? ' as a learner' : ''} through ${via.name}`);
    const added = await addMember(via, host, { learner }, pace);
    members = added.members.length > 0 ? added.members : (await readClusterView(via, inv)).members;
    member = members.find((m) => m.id === added.id) ?? { id: added.id, name: '', peerURLs: [], clientURLs: [], isLearner: learner };
  }
  const id = member.id;
  let isLearner = member.isLearner;
  const initialCluster = initialClusterOf(members, inv, host);
  const desired = await etcdDesired(ctx);
  ctx.report(`starting etcd on ${host.name} as a joining member (initial cluster ${initialCluster})`);
  await ctx.remote.script(startJoiningScript(initialCluster, inv.etcd.dataDir, desired.fingerprint), { mutating: true, label: 'start etcd as a joining member' });

  const timeoutMs = etcdWaitTimeoutMs(inv);
  const start = cluster.now().getTime();
  let restartsAtStart: number | null = null;
  let waitingFor = 'etcd to start';
  let lastError = '';
  try {
    for (;;) {
      if (cluster.signal.aborted) throw new KubiError('cancelled', `stopped while ${host.name} was joining the etcd cluster`, { host: host.name });
      const unit = parseLocalUnit((await ctx.remote.script(localUnitScript(), { mutating: false, label: 'etcd unit state', allowFailure: true })).stdout);
      restartsAtStart ??= unit.nRestarts;
      if (unit.activeState === 'failed' || (unit.activeState !== 'active' && unit.nRestarts > restartsAtStart)) {
        throw new KubiError('etcd-join-failed', `etcd on ${host.name} exits instead of joining the cluster (${unit.activeState}/${unit.subState}); journal: ${unit.journal || 'empty'}`, {
          host: host.name,
          hint: `read journalctl -u etcd -n 100 on ${host.name}; the member stays added (unstarted): the next run tries the start again`,
        });
      }
      if (isLearner && unit.activeState === 'active') {
        waitingFor = `the learner ${host.name} to catch up with the leader`;
        try {
          await promoteMember(via, id, pace, 0);
          isLearner = false;
          ctx.report(`promoted ${host.name} to a voting member`);
        } catch (e) {
          lastError = e instanceof Error ? e.message : String(e);
          if (!/not in sync|in sync with leader|unhealthy|timed out|deadline/i.test(lastError)) throw e;
        }
      }
      if (!isLearner) {
        const now = await readClusterView(via, inv).catch(() => null);
        const me = now?.members.find((m) => m.id === id);
        const healthy = now?.health.find((h) => h.endpoint === etcdClientUrl(host))?.health === true;
        if (me && me.name === host.name && !me.isLearner && healthy) break;
        waitingFor = !me ? `member ${id} to appear in the member list` : me.name === '' ? `${host.name} to start and publish its name` : `${host.name} to answer healthy at ${etcdClientUrl(host)}`;
      }
      if (cluster.now().getTime() - start >= timeoutMs) {
        throw new KubiError('etcd-join-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${waitingFor}${lastError ? ` (last: ${lastError})` : ''}`, {
          host: host.name,
          hint: `check etcdctl member list and journalctl -u etcd on ${host.name}`,
        });
      }
      ctx.report(`waiting for ${waitingFor}`);
      await cluster.sleep(1000);
    }
  } catch (e) {
    const stamp = cluster.now().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    await ctx.remote.script(abandonJoinScript(inv.etcd.dataDir, stamp), { mutating: true, label: 'stop the member that failed to join', allowFailure: true });
    throw e;
  }
  await ctx.remote.script(removeJoinFilesScript(), { mutating: true, label: 'remove the transient join settings' });
  ctx.report(`${host.name} joined the etcd cluster as a voting member`);
}
