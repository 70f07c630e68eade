/**
 * `etcd.start` (all members in parallel): enable etcd and start every member that is not
 * running, WITHOUT waiting for the unit (`systemctl start --no-block`): a Type=notify member of a
 * new cluster only reports ready once a quorum of members runs, so blocking starts one at a time
 * would deadlock. Then every started member waits (settle) until `endpoint health --cluster`
 * is healthy for every inventory member and the member list matches the inventory.
 *
 * The initial cluster state stays `new`: etcd ignores it once a member has a data directory, so
 * restarts of bootstrapped members are safe; members that join a running cluster later are the
 * lifecycle commands' work (state `existing`). Restarting running members whose inputs changed
 * is etcd.roll's work, one member at a time. The fingerprint of the inputs is recorded on start.
 */
import { applyChanges } from '../../engine/apply.js';
import type { Change, Step } from '../../engine/types.js';
import { FINGERPRINT_DIR, observe, type Observation } from '../lib/index.js';
import { ETCD_FINGERPRINT_PATH, etcdDesired } from './desired.js';
import { ETCD_UNIT, waitForEtcdCluster } from './health.js';

const ENABLED = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated']);
export const WAIT_FOR_START_TITLE = 'wait for the etcd member that is still starting';

export interface StartObserved {
  observation: Observation;
}

/** Pure plan of etcd.start. */
export function planStart(obs: Observation, fingerprint: string): Change[] {
  const unit = obs.units.get(ETCD_UNIT) ?? { unit: ETCD_UNIT, enabled: 'not-found', active: 'inactive' };
  const changes: Change[] = [];
  if (unit.active === 'active') {
    if (!ENABLED.has(unit.enabled)) changes.push({ kind: 'service', unit: ETCD_UNIT, action: 'enable' });
    return changes;
  }
  if (unit.active === 'activating') {
    // started earlier (maybe by a run that stopped): do not start it twice, wait for it
    changes.push({ kind: 'action', title: WAIT_FOR_START_TITLE, detail: ['etcd waits for a quorum of members before it reports ready'] });
  } else {
    // recorded now: the member starts from exactly these inputs (a failed start is retried on
    // the next run because the unit is then not active, whatever the fingerprint says)
    const fp = obs.files.get(ETCD_FINGERPRINT_PATH);
    const recorded = fp?.type === 'file' ? (fp.content?.toString('utf8') ?? null) : null;
    if (recorded?.trim() !== fingerprint) {
      if (obs.files.get(FINGERPRINT_DIR)?.type !== 'dir') changes.push({ kind: 'mkdir', path: FINGERPRINT_DIR, mode: 0o755, owner: 'root', group: 'root' });
      changes.push({
        kind: 'file',
        path: ETCD_FINGERPRINT_PATH,
        content: `${fingerprint}\n`,
        mode: 0o644,
        owner: 'root',
        group: 'root',
        ...(recorded === null ? { action: 'create' as const, before: null } : { action: 'update' as const, before: recorded }),
      });
    }
    changes.push({ kind: 'command', title: 'start etcd without waiting (members wait for each other)', argv: ['systemctl', 'start', '--no-block', ETCD_UNIT] });
  }
  if (!ENABLED.has(unit.enabled)) changes.push({ kind: 'service', unit: ETCD_UNIT, action: 'enable' });
  return changes;
}

export const etcdStart: Step<StartObserved> = {
  id: 'etcd.start',
  title: 'Start the etcd members and wait for a healthy cluster',
  async check(ctx) {
    const observation = await observe(ctx.remote, { files: [FINGERPRINT_DIR, ETCD_FINGERPRINT_PATH], content: [ETCD_FINGERPRINT_PATH], units: [ETCD_UNIT] });
    return { observation };
  },
  async plan(observed, ctx) {
    const d = await etcdDesired(ctx);
    return planStart(observed.observation, d.fingerprint);
  },
  async apply(changes, ctx) {
    await applyChanges(ctx.remote, changes.filter((c) => c.kind !== 'action'));
  },
  async settle(ctx) {
    await waitForEtcdCluster(ctx, { purpose: `the etcd cluster after starting etcd on ${ctx.host.name}` });
  },
};
