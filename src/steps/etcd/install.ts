/**
 * `etcd.install`: the etcd and etcdctl binaries of the inventory's version and the host's
 * architecture (verified against the release checksums on the workstation) in /usr/local/bin,
 * uploaded only when the host's sha256 differs. Converged: one read-only round trip.
 */
import type { Change, Step } from '../../engine/types.js';
import { observeFiles, type Observation } from '../lib/index.js';
import type { DesiredBinary } from '../artifacts/etcd.js';
import { etcdDesired } from './desired.js';

/** always observed, so a plan without the binaries at hand still reads the host in one round trip */
const ETCD_BINARY_PATHS = ['/usr/local/bin/etcd', '/usr/local/bin/etcdctl'];

/**
 * Pure: upload a binary whose sha256 differs (compared with the artifact's verified sha256, so
 * nothing large is hashed again), fix mode/owner when only they differ. No diff for binaries.
 */
export function planBinaries(binaries: readonly DesiredBinary[], obs: Observation): Change[] {
  const changes: Change[] = [];
  for (const b of binaries) {
    const have = obs.files.get(b.path);
    // `content` only for a change: it is loaded on first access (src/steps/artifacts/binaries.ts)
    const base = () => ({ kind: 'file' as const, path: b.path, content: b.content, mode: b.mode & 0o7777, ...(b.owner ? { owner: b.owner } : {}), ...(b.group ? { group: b.group } : {}) });
    if (!have || have.type === 'missing') changes.push({ ...base(), action: 'create' });
    else if (have.sha256 !== b.sha256) changes.push({ ...base(), action: 'update' });
    else if (have.mode !== (b.mode & 0o7777) || (b.owner && have.owner !== b.owner) || (b.group && have.group !== b.group)) changes.push({ ...base(), action: 'chmod' });
  }
  return changes;
}

export const etcdInstall: Step<Observation> = {
  id: 'etcd.install',
  title: 'Install the etcd binaries',
  async check(ctx) {
    const d = await etcdDesired(ctx);
    return observeFiles(ctx.remote, [...new Set([...d.binaries.map((b) => b.path), ...ETCD_BINARY_PATHS])]);
  },
  async plan(observed, ctx) {
    const d = await etcdDesired(ctx);
    if (d.binariesPending) {
      return [{ kind: 'action', title: `install etcd ${ctx.cluster.inventory.versions.etcd} into /usr/local/bin`, detail: [d.binariesPending] }];
    }
    return planBinaries(d.binaries, observed);
  },
};
