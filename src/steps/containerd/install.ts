/**
 * `containerd.install`: containerd, containerd-shim-runc-v2 and ctr from the containerd release,
 * runc, and crictl when its artifact is on this machine, each verified by sha256 on the
 * workstation and uploaded only when the host's copy differs. Converged: one read-only round trip.
 */
import type { Step } from '../../engine/types.js';
import { CONTAINERD_PATHS } from '../../render/containerd.js';
import { observeFiles, planFiles, type Observation } from '../lib/index.js';
import { containerdDesired } from './desired.js';

/** always observed, so a plan without the binaries at hand still reads the host in one round trip */
const ALWAYS = [CONTAINERD_PATHS.binary, CONTAINERD_PATHS.runc];

export const containerdInstall: Step<Observation> = {
  id: 'containerd.install',
  title: 'Install containerd, runc and ctr',
  async check(ctx) {
    const d = await containerdDesired(ctx);
    return observeFiles(ctx.remote, [...new Set([...d.binaries.map((b) => b.path), ...ALWAYS])]);
  },
  async plan(observed, ctx) {
    const d = await containerdDesired(ctx);
    const v = ctx.cluster.inventory.versions;
    const changes = planFiles(d.binaries, observed);
    if (d.pending) changes.push({ kind: 'action', title: `install containerd ${v.containerd} and runc ${v.runc}`, detail: [d.pending] });
    return changes;
  },
};
