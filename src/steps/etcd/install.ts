/**
 * `etcd.install`: the etcd and etcdctl binaries of the inventory's version and the host's
 * architecture (verified against the release checksums on the workstation) in /usr/local/bin,
 * uploaded only when the host's sha256 differs. Converged: one read-only round trip.
 */
import type { Step } from '../../engine/types.js';
import { observeFiles, planFiles, type Observation } from '../lib/index.js';
import { etcdDesired } from './desired.js';

export const etcdInstall: Step<Observation> = {
  id: 'etcd.install',
  title: 'Install the etcd binaries',
  async check(ctx) {
    const d = await etcdDesired(ctx);
    return observeFiles(ctx.remote, d.binaries.map((b) => b.path));
  },
  async plan(observed, ctx) {
    const d = await etcdDesired(ctx);
    return planFiles(d.binaries, observed);
  },
};
