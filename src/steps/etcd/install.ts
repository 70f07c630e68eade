/**
 * `etcd.install`: the etcd and etcdctl binaries of the inventory's version and the host's
 * architecture (verified against the release checksums on the workstation) in /usr/local/bin,
 * uploaded only when the host's sha256 differs. Converged: one read-only round trip.
 */
import type { Step } from '../../engine/types.js';
import { observeFiles, planFiles, type Observation } from '../lib/index.js';
import { etcdDesired } from './desired.js';

/** always observed, so a plan without the binaries at hand still reads the host in one round trip */
const ETCD_BINARY_PATHS = ['/usr/local/bin/etcd', '/usr/local/bin/etcdctl'];

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
    return planFiles(d.binaries, observed);
  },
};
