/**
 * `etcd.roll` (serial: one member at a time, in inventory order): restart a RUNNING member whose
 * inputs (binary, unit, environment, certificates) changed since it was started, i.e. whose
 * recorded fingerprint differs. Before a restart the whole cluster must be healthy (refused
 * otherwise: restarting then could lose quorum); a member that leads hands leadership to a
 * healthy peer first, so clients see no election; after the restart the step waits until the
 * member and the cluster are healthy again before the next member is touched. The fingerprint
 * is recorded only after the restart succeeded.
 */
import { KubiError } from '../../errors.js';
import { applyChanges } from '../../engine/apply.js';
import type { Change, Step, StepContext } from '../../engine/types.js';
import { etcdClientUrl } from '../../render/etcd.js';
import { FINGERPRINT_DIR, type Observation } from '../lib/index.js';
import { observeWithExtra } from '../host/script.js';
import { quoteWord } from '../../transport/quote.js';
import { ETCD_FINGERPRINT_PATH, etcdDesired } from './desired.js';
import { etcdctlArgv, parseEndpointHealth, parseEndpointStatus, parseMemberList } from './etcdctl.js';
import { ETCD_UNIT, clusterProbeScript, evaluateCluster, parseClusterProbe, waitForEtcdCluster, type ClusterProbe } from './health.js';

export const HAND_OVER_TITLE = 'hand etcd leadership to a healthy peer if this member leads';

export interface RollObserved {
  observation: Observation;
  /** the cluster as this member sees it; only probed when a restart is due */
  probe: ClusterProbe | null;
}

function recordedFingerprint(obs: Observation): string | null {
  const f = obs.files.get(ETCD_FINGERPRINT_PATH);
  return f?.type === 'file' ? (f.content?.toString('utf8').trim() ?? null) : null;
}

/** Pure plan of etcd.roll. */
export function planRoll(o: RollObserved, ctx: Pick<StepContext, 'cluster' | 'host'>, fingerprint: string): Change[] {
  const unit = o.observation.units.get(ETCD_UNIT);
  if (!unit || unit.active !== 'active') return []; // not running: etcd.start's work
  const recorded = recordedFingerprint(o.observation);
  if (recorded === fingerprint) return [];
  const why = recorded === null ? 'no fingerprint recorded' : 'configuration, certificates or binary changed';
  if (!o.probe) throw new KubiError('internal', 'the cluster was not probed before a restart', { host: ctx.host.name });
  const verdict = evaluateCluster(o.probe, ctx.cluster.inventory, ctx.host, o.probe.unit.nRestarts);
  if (verdict.state !== 'ready') {
    throw new KubiError('etcd-roll-unsafe', `refusing to restart etcd (${why}): the cluster is not healthy: ${verdict.state === 'waiting' ? verdict.waitingFor : verdict.reason}`, {
      host: ctx.host.name,
      hint: 'restarting a member while another one is down could lose quorum: bring every member back (run up again once it is healthy)',
    });
  }
  const members = ctx.cluster.inventory.hosts.filter((h) => h.roles.includes('etcd')).length;
  const changes: Change[] = [];
  if (members > 1) changes.push({ kind: 'action', title: HAND_OVER_TITLE, shell: 'etcdctl move-leader <id of a healthy peer>   # only when this member leads' });
  changes.push({ kind: 'service', unit: ETCD_UNIT, action: 'restart', fingerprint: { path: ETCD_FINGERPRINT_PATH, value: fingerprint } });
  return changes;
}

/** The check's extra probe: the cluster, only when the recorded fingerprint differs. */
function rollProbeScript(fingerprint: string): string {
  return `if [ "$(cat ${quoteWord(ETCD_FINGERPRINT_PATH)} 2>/dev/null)" != ${quoteWord(fingerprint)} ]; then
${clusterProbeScript()}
fi`;
}

async function run(ctx: StepContext, args: string[], endpoints?: string[]): Promise<string> {
  const res = await ctx.remote.exec(etcdctlArgv(args, endpoints ? { endpoints } : {}), { mutating: false, allowFailure: true, label: `etcdctl ${args.join(' ')}` });
  return res.stdout;
}

/** If this member leads, move leadership to a healthy peer (and confirm it moved). */
export async function handOverLeadership(ctx: StepContext): Promise<void> {
  const me = parseEndpointStatus(await run(ctx, ['endpoint', 'status', '-w', 'json']))[0];
  if (!me || !me.memberId || me.memberId !== me.leaderId) return;
  const members = parseMemberList(await run(ctx, ['member', 'list', '-w', 'json'])) ?? [];
  const peers = members.filter((m) => m.id !== me.memberId && m.name !== '' && !m.isLearner && m.clientURLs.length > 0);
  const byName = new Map(ctx.cluster.inventory.hosts.map((h) => [h.name, h]));
  const urls = peers.map((p) => (byName.get(p.name) ? etcdClientUrl(byName.get(p.name)!) : (p.clientURLs[0] as string)));
  const health = urls.length ? parseEndpointHealth(await run(ctx, ['endpoint', 'health', '-w', 'json'], urls)) : [];
  const target = peers.find((p, i) => health.some((h) => h.endpoint === urls[i] && h.health));
  if (!target) {
    throw new KubiError('etcd-no-healthy-peer', 'this member leads and no healthy peer can take over', {
      host: ctx.host.name,
      hint: 'bring the other members back before restarting this one',
    });
  }
  ctx.report(`moving leadership to ${target.name}`);
  await ctx.remote.exec(etcdctlArgv(['move-leader', target.id]), { mutating: true, label: `move etcd leadership to ${target.name}` });
}

export const etcdRoll: Step<RollObserved> = {
  id: 'etcd.roll',
  title: 'Restart etcd members whose configuration changed, one at a time',
  async check(ctx) {
    const d = await etcdDesired(ctx);
    const req = { files: [FINGERPRINT_DIR, ETCD_FINGERPRINT_PATH], content: [ETCD_FINGERPRINT_PATH], units: [ETCD_UNIT] };
    const { observation, extra } = await observeWithExtra(ctx.remote, req, rollProbeScript(d.fingerprint), 'observe etcd fingerprint');
    return { observation, probe: extra.includes('@@kubi:unit@@') ? parseClusterProbe(extra) : null };
  },
  async plan(observed, ctx) {
    const d = await etcdDesired(ctx);
    return planRoll(observed, ctx, d.fingerprint);
  },
  async apply(changes, ctx) {
    if (changes.some((c) => c.kind === 'action' && c.title === HAND_OVER_TITLE)) await handOverLeadership(ctx);
    await applyChanges(ctx.remote, changes.filter((c) => c.kind !== 'action'));
  },
  async settle(ctx) {
    await waitForEtcdCluster(ctx, { purpose: `the etcd cluster after restarting etcd on ${ctx.host.name}` });
  },
};
