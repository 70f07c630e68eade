/**
 * The k3s binary: `k3s.artifact`, the preflight of the k3s steps (a local step, the first k3s
 * step of `up`), and `k3sBinary(ctx)`, what k3s.install uploads.
 *
 * The preflight resolves the k3s release for every architecture among the Kubernetes nodes
 * BEFORE any k3s step touches a host. Where it is missing (an offline directory without it, a
 * download that fails), `up` stops there with an error naming the artifact (`k3s <version>
 * <arch>`) and where to put it; every step before it has run for real. `plan` needs no binary:
 * it shows "binary k3s <v> <arch>: missing artifact" as a change that cannot be applied and still
 * renders every k3s file.
 */
import path from 'node:path';
import { artifactFor, type ArtifactSource } from '../../artifacts/index.js';
import { KubiError, describeError } from '../../errors.js';
import type { Change, ClusterContext, LocalStep, StepContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { kubeNodes } from '../../render/cluster.js';
import type { DesiredFile } from '../lib/index.js';
import { artifactAvailableLocally, artifactSource, binariesFor, binaryFile, forgetLoaded } from '../artifacts/binaries.js';

export const K3S_BINARY_PATH = '/usr/local/bin/k3s';

/** The title of the plan's change-that-cannot-apply when the binary is missing. */
export function missingTitle(version: string, arch: string): string {
  return `binary k3s ${version} ${arch}: missing artifact`;
}

/** Where a user puts the k3s binary for an offline directory (or the cache for downloads). */
export function k3sArtifactPaths(source: ArtifactSource, version: string, arch: Arch): { dir: string; binary: string; checksum: string } {
  const spec = artifactFor('k3s', version, arch);
  const dir = path.join(source.kind === 'offline' ? source.dir : source.cacheDir, spec.relativeDir);
  return { dir, binary: path.join(dir, spec.fileName), checksum: path.join(dir, spec.checksumFileName) };
}

/** Lines that say where the missing binary goes (plan detail and error hint). */
export function whereToPutK3s(source: ArtifactSource, version: string, arch: Arch): string[] {
  const p = k3sArtifactPaths(source, version, arch);
  const lines = [
    `put the k3s binary at ${p.binary} and its checksum file ${p.checksum} beside it (both from the k3s ${version} release)`,
    'in the lab: kubi-provision lab up --k3s-binary PATH (or KUBI_K3S_BINARY=PATH) puts it there',
  ];
  if (source.kind !== 'offline') lines.unshift(`the download ${artifactFor('k3s', version, arch).upstreamUrl} did not succeed; or`);
  return lines;
}

export function missingK3sError(cluster: ClusterContext, arch: Arch, cause?: unknown): KubiError {
  const version = cluster.inventory.versions.k3s;
  const source = artifactSource(cluster);
  const what = source.kind === 'offline' ? `not in the offline directory ${source.dir}` : `could not be fetched${cause ? ` (${describeError(cause).split('\n')[0]})` : ''}`;
  return new KubiError('k3s-binary-missing', `the k3s binary (k3s ${version} ${arch}) is missing: ${what}`, {
    step: 'k3s.artifact',
    hint: whereToPutK3s(source, version, arch).join('; '),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** Architectures of the Kubernetes nodes (facts first, the inventory's arch otherwise). */
export function nodeArches(cluster: ClusterContext): Arch[] {
  const arches = new Set<Arch>();
  for (const h of kubeNodes(cluster.inventory)) {
    const a = cluster.facts.get(h.name)?.arch ?? h.arch;
    if (a && a !== 'unknown') arches.add(a);
  }
  return [...arches].sort();
}

export type K3sBinary =
  | { state: 'ready'; file: DesiredFile }
  /** plan mode: will be downloaded by up */
  | { state: 'pending'; reason: string }
  /** plan mode: not available and cannot be fetched from the offline source */
  | { state: 'missing'; title: string; detail: string[] };

/**
 * The binary for one host's architecture. In apply mode a missing artifact is the preflight's
 * error (so `--only k3s.install` stops with the same message).
 */
export async function k3sBinary(ctx: Pick<StepContext, 'cluster' | 'facts' | 'host'>): Promise<K3sBinary> {
  const cluster = ctx.cluster;
  const version = cluster.inventory.versions.k3s;
  const arch = (ctx.facts.arch === 'unknown' ? (ctx.host.arch ?? 'unknown') : ctx.facts.arch) as Arch;
  const source = artifactSource(cluster);
  const local = await artifactAvailableLocally(source, 'k3s', version, arch);
  if (!local && source.kind === 'offline') {
    if (cluster.mode === 'plan') return { state: 'missing', title: missingTitle(version, arch), detail: ['this change cannot be applied until the artifact is there:', ...whereToPutK3s(source, version, arch)] };
    throw missingK3sError(cluster, arch);
  }
  let set;
  try {
    set = await binariesFor(cluster, 'k3s', version, arch);
  } catch (e) {
    throw missingK3sError(cluster, arch, e);
  }
  if (set.state === 'pending') return { state: 'pending', reason: set.reason };
  const bin = set.binaries.find((b) => b.installPath === K3S_BINARY_PATH) ?? set.binaries[0];
  if (!bin) throw missingK3sError(cluster, arch);
  return { state: 'ready', file: binaryFile(bin, { path: K3S_BINARY_PATH, mode: 0o755 }) };
}

export interface K3sArtifactStatus {
  arch: Arch;
  local: boolean;
}

/** Pure plan of the preflight. */
export function planK3sArtifact(status: readonly K3sArtifactStatus[], cluster: Pick<ClusterContext, 'mode' | 'inventory'>, source: ArtifactSource): Change[] {
  const version = cluster.inventory.versions.k3s;
  const changes: Change[] = [];
  for (const s of status) {
    if (s.local) continue;
    if (source.kind === 'offline') {
      if (cluster.mode === 'apply') {
        const where = whereToPutK3s(source, version, s.arch);
        throw new KubiError('k3s-binary-missing', `the k3s binary (k3s ${version} ${s.arch}) is missing: not in the offline directory ${source.dir}`, {
          step: 'k3s.artifact',
          hint: where.join('; '),
        });
      }
      changes.push({
        kind: 'action',
        title: missingTitle(version, s.arch),
        detail: ['cannot be applied: up stops here until the artifact is there', ...whereToPutK3s(source, version, s.arch)],
      });
    } else {
      const spec = artifactFor('k3s', version, s.arch);
      changes.push({
        kind: 'action',
        title: `download ${spec.fileName} (k3s ${version} ${s.arch}) into the cache and verify its sha256`,
        detail: [source.kind === 'mirror' ? `from the mirror ${source.baseUrl}` : `from ${spec.upstreamUrl}`, `cache: ${source.cacheDir}`],
      });
    }
  }
  return changes;
}

export const k3sArtifact: LocalStep<K3sArtifactStatus[]> = {
  id: 'k3s.artifact',
  title: 'Check that the k3s binary is available (preflight of the k3s steps)',
  local: true,
  async check(ctx) {
    const source = artifactSource(ctx.cluster);
    const version = ctx.cluster.inventory.versions.k3s;
    const out: K3sArtifactStatus[] = [];
    for (const arch of nodeArches(ctx.cluster)) out.push({ arch, local: await artifactAvailableLocally(source, 'k3s', version, arch) });
    return out;
  },
  plan(status, ctx) {
    return planK3sArtifact(status, ctx.cluster, artifactSource(ctx.cluster));
  },
  async apply(_changes, ctx) {
    forgetLoaded(ctx.cluster);
    const version = ctx.cluster.inventory.versions.k3s;
    for (const arch of nodeArches(ctx.cluster)) {
      try {
        const set = await binariesFor(ctx.cluster, 'k3s', version, arch);
        if (set.state === 'ready') ctx.report(`k3s ${version} ${arch}: verified`);
      } catch (e) {
        throw missingK3sError(ctx.cluster, arch, e);
      }
    }
  },
};
