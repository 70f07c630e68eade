/**
 * `cni.install`: the CNI plugins (bridge, host-local, portmap, loopback, ...) of the inventory's
 * CNI release into /opt/cni/bin, uploaded only when a host's copy differs. Bridge mode only: with
 * flannel, k3s brings its own plugins (containerd then points at k3s's CNI directories).
 */
import type { Change, Step, StepContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { CNI_DIRS } from '../../render/containerd.js';
import { observeFiles, planDirs, planFiles, type DesiredDir, type DesiredFile, type Observation } from '../lib/index.js';
import { binariesFor, binaryFile } from '../artifacts/binaries.js';

const root = { owner: 'root', group: 'root' } as const;
export const CNI_BIN_DIR: DesiredDir = { path: CNI_DIRS.bridge.bin, mode: 0o755, ...root };

type Plugins = { files: DesiredFile[]; pending: string | null };

export async function cniPlugins(ctx: Pick<StepContext, 'cluster' | 'facts' | 'host'>): Promise<Plugins> {
  const version = ctx.cluster.inventory.versions.cni;
  const arch = (ctx.facts.arch === 'unknown' ? (ctx.host.arch ?? 'unknown') : ctx.facts.arch) as Arch;
  const set = await binariesFor(ctx.cluster, 'cni', version, arch);
  if (set.state === 'pending') return { files: [], pending: set.reason };
  return { files: set.binaries.map((b) => binaryFile(b, root)), pending: null };
}

export const cniInstall: Step<Observation | null> = {
  id: 'cni.install',
  title: 'Install the CNI plugins',
  async check(ctx) {
    if (ctx.cluster.inventory.network.cni !== 'bridge') return null;
    const p = await cniPlugins(ctx);
    return observeFiles(ctx.remote, [CNI_BIN_DIR.path, ...p.files.map((f) => f.path)]);
  },
  async plan(observed, ctx) {
    if (observed === null) return [];
    const p = await cniPlugins(ctx);
    const changes: Change[] = [...planDirs([CNI_BIN_DIR], observed), ...planFiles(p.files, observed)];
    if (p.pending) changes.push({ kind: 'action', title: `install the CNI plugins ${ctx.cluster.inventory.versions.cni} into ${CNI_BIN_DIR.path}`, detail: [p.pending] });
    return changes;
  },
};
