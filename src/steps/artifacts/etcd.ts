/**
 * The etcd binaries each member needs, and `artifacts.etcd` (a local step): the etcd release of
 * the inventory's version for every architecture among the etcd hosts, resolved into the local
 * cache (or found in the offline directory) and verified by sha256 before anything is uploaded.
 */
import type { Change, LocalStep, StepContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { artifactFor } from '../../artifacts/index.js';
import type { DesiredFile } from '../lib/index.js';
import { artifactAvailableLocally, artifactSource, binariesFor, binaryFile, forgetLoaded } from './binaries.js';

/** A binary to install, with the sha256 the artifact already verified (40 MB are not hashed again per host). */
export type DesiredBinary = DesiredFile & { content: Buffer; sha256: string };

export type EtcdBinaries = { files: DesiredBinary[]; pending: null } | { files: []; pending: string };

/** etcd, etcdctl (and etcdutl from 3.5) for this host's architecture, 0755 root. */
export async function etcdBinaryFiles(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): Promise<EtcdBinaries> {
  const version = ctx.cluster.inventory.versions.etcd;
  const set = await binariesFor(ctx.cluster, 'etcd', version, ctx.facts.arch as Arch);
  if (set.state === 'pending') return { files: [], pending: set.reason };
  return {
    files: set.binaries.map((b) => binaryFile(b)),
    pending: null,
  };
}

/** Architectures of the etcd hosts (from facts; the inventory's arch when facts are missing). */
export function etcdArches(ctx: { cluster: StepContext['cluster'] }): Arch[] {
  const arches = new Set<Arch>();
  for (const h of ctx.cluster.inventory.hosts) {
    if (!h.roles.includes('etcd')) continue;
    const a = ctx.cluster.facts.get(h.name)?.arch ?? h.arch;
    if (a && a !== 'unknown') arches.add(a);
  }
  return [...arches].sort();
}

export interface ArtifactStatus {
  arch: Arch;
  fileName: string;
  local: boolean;
}

export const artifactsEtcd: LocalStep<ArtifactStatus[]> = {
  id: 'artifacts.etcd',
  title: 'Fetch and verify the etcd release',
  local: true,
  async check(ctx) {
    const source = artifactSource(ctx.cluster);
    const version = ctx.cluster.inventory.versions.etcd;
    const out: ArtifactStatus[] = [];
    for (const arch of etcdArches(ctx)) {
      const spec = artifactFor('etcd', version, arch);
      out.push({ arch, fileName: spec.fileName, local: await artifactAvailableLocally(source, 'etcd', version, arch) });
    }
    return out;
  },
  plan(status, ctx) {
    const source = artifactSource(ctx.cluster);
    return status
      .filter((s) => !s.local)
      .map((s): Change => ({
        kind: 'action',
        title: `download ${s.fileName} into the cache and verify its sha256`,
        detail: [source.kind === 'mirror' ? `from the mirror ${source.baseUrl}` : 'from the etcd release on GitHub', `cache: ${source.cacheDir}`],
      }));
  },
  async apply(_changes, ctx) {
    forgetLoaded(ctx.cluster);
    const version = ctx.cluster.inventory.versions.etcd;
    for (const arch of etcdArches(ctx)) {
      const set = await binariesFor(ctx.cluster, 'etcd', version, arch);
      if (set.state === 'ready') ctx.report(`etcd ${version} ${arch}: ${set.binaries.map((b) => b.installPath).join(', ')} verified`);
    }
  },
};
