/**
 * What containerd on a node should look like, shared by containerd.install and
 * containerd.configure so they agree: the binaries (containerd, its runc shim and ctr from the
 * containerd release, runc, and crictl only when its artifact is already on this machine), the
 * rendered config.toml / unit / crictl.yaml, and the service with the fingerprint of everything
 * the running daemon depends on (binaries, config, unit): a different fingerprint means restart.
 */
import type { ClusterContext, StepContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { CONTAINERD_PATHS, containerdFiles } from '../../render/containerd.js';
import type { DesiredDir, DesiredFile, DesiredService } from '../lib/index.js';
import { artifactAvailableLocally, artifactSource, binariesFor, binaryFile } from '../artifacts/binaries.js';

export const CONTAINERD_UNIT = 'containerd.service';
export const CRICTL_PATH = '/usr/local/bin/crictl';

export interface ContainerdDesired {
  binaries: DesiredFile[];
  /** plan mode: why some binaries are not known yet (null when they all are) */
  pending: string | null;
  /** true when a crictl artifact is available and installed */
  crictl: boolean;
  dirs: DesiredDir[];
  config: DesiredFile[];
  service: DesiredService;
}

const root = { owner: 'root', group: 'root' } as const;

/** crictl has no inventory version: the release of the Kubernetes minor k3s runs (v1.34.3+k3s1 -> v1.34.0). */
export function crictlVersionFor(k3sVersion: string): string | null {
  const m = /^v?(\d+)\.(\d+)\./.exec(k3sVersion);
  return m ? `v${m[1]}.${m[2]}.0` : null;
}

function archOf(ctx: Pick<StepContext, 'facts' | 'host'>): Arch {
  return (ctx.facts.arch === 'unknown' ? (ctx.host.arch ?? 'unknown') : ctx.facts.arch) as Arch;
}

async function binaries(ctx: Pick<StepContext, 'cluster' | 'facts' | 'host'>): Promise<{ files: DesiredFile[]; pending: string[]; crictl: boolean }> {
  const cluster = ctx.cluster;
  const v = cluster.inventory.versions;
  const arch = archOf(ctx);
  const files: DesiredFile[] = [];
  const pending: string[] = [];
  for (const [component, version] of [
    ['containerd', v.containerd],
    ['runc', v.runc],
  ] as const) {
    const set = await binariesFor(cluster, component, version, arch);
    if (set.state === 'pending') pending.push(`${component} ${version}: ${set.reason}`);
    else for (const b of set.binaries) files.push(binaryFile(b, root));
  }
  let crictl = false;
  const crictlVersion = crictlVersionFor(v.k3s);
  if (crictlVersion && (await artifactAvailableLocally(artifactSource(cluster), 'crictl', crictlVersion, arch))) {
    const set = await binariesFor(cluster, 'crictl', crictlVersion, arch);
    if (set.state === 'ready') {
      for (const b of set.binaries) files.push(binaryFile(b, root));
      crictl = true;
    }
  }
  return { files, pending, crictl };
}

/** Paths whose content the running daemon depends on. */
const DAEMON_INPUTS = new Set<string>([CONTAINERD_PATHS.binary, '/usr/local/bin/containerd-shim-runc-v2', CONTAINERD_PATHS.runc, CONTAINERD_PATHS.config, CONTAINERD_PATHS.unit]);

const memo = new WeakMap<ClusterContext, Map<string, Promise<ContainerdDesired>>>();

/** Everything one node should have; memoized per run and host. */
export function containerdDesired(ctx: Pick<StepContext, 'cluster' | 'facts' | 'host'>): Promise<ContainerdDesired> {
  let perHost = memo.get(ctx.cluster);
  if (!perHost) {
    perHost = new Map();
    memo.set(ctx.cluster, perHost);
  }
  let p = perHost.get(ctx.host.name);
  if (!p) {
    p = (async () => {
      const bin = await binaries(ctx);
      const config: DesiredFile[] = containerdFiles(ctx.cluster.inventory).map((f) => ({ path: f.path, content: f.content, mode: f.mode, ...root }));
      const inputs = [...bin.files, ...config].filter((f) => DAEMON_INPUTS.has(f.path));
      return {
        binaries: bin.files,
        pending: bin.pending.length > 0 ? bin.pending.join('; ') : null,
        crictl: bin.crictl,
        dirs: [{ path: '/etc/containerd', mode: 0o755, ...root }],
        config,
        service: {
          unit: CONTAINERD_UNIT,
          // a binary not known yet (plan mode) can never match a recorded fingerprint
          inputs: { files: inputs, extra: bin.pending.map((x) => `pending: ${x}`) },
        },
      };
    })();
    perHost.set(ctx.host.name, p);
    p.catch(() => perHost!.delete(ctx.host.name));
  }
  return p;
}
