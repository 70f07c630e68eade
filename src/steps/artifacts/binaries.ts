/**
 * Workstation side of binary distribution (the one module under src/steps/ that touches the
 * local file system, on purpose: it turns verified artifacts from src/artifacts into the file
 * contents host steps upload). Per run, one ArtifactResolver over the inventory's source, and per
 * (component, version, arch) the binaries loaded once into memory with their sha256.
 *
 * Plan mode writes nothing locally: an artifact that is in the offline directory or already in
 * the cache is verified and unpacked into a private temporary directory (removed at once); one
 * that would need a download is reported as pending (`up` downloads it).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ArtifactResolver,
  artifactFor,
  extractBinaries,
  sourceFromInventory,
  type ArtifactSource,
  type Component,
} from '../../artifacts/index.js';
import type { ClusterContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { rememberSha256 } from '../lib/files.js';

export interface LoadedBinary {
  installPath: string;
  content: Buffer;
  sha256: string;
  mode: number;
}

export type BinarySet =
  | { state: 'ready'; binaries: LoadedBinary[]; origin: string }
  /** plan mode only: the artifact is not on this machine yet */
  | { state: 'pending'; reason: string };

interface RunArtifacts {
  resolver: ArtifactResolver;
  sets: Map<string, Promise<BinarySet>>;
}

const runs = new WeakMap<ClusterContext, RunArtifacts>();

export function artifactSource(cluster: ClusterContext): ArtifactSource {
  return sourceFromInventory(cluster.inventory.artifacts, { baseDir: path.dirname(cluster.inventoryPath) });
}

function runOf(cluster: ClusterContext): RunArtifacts {
  let r = runs.get(cluster);
  if (!r) {
    r = { resolver: new ArtifactResolver(artifactSource(cluster)), sets: new Map() };
    runs.set(cluster, r);
  }
  return r;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** Is the artifact on this machine (offline directory, or both files in the cache)? Read-only. */
export async function artifactAvailableLocally(source: ArtifactSource, component: Component, version: string, arch: Arch): Promise<boolean> {
  const spec = artifactFor(component, version, arch);
  const dir = source.kind === 'offline' ? path.join(source.dir, spec.relativeDir) : path.join(source.cacheDir, spec.relativeDir);
  return (await exists(path.join(dir, spec.fileName))) && (await exists(path.join(dir, spec.checksumFileName)));
}

async function load(cluster: ClusterContext, component: Component, version: string, arch: Arch): Promise<BinarySet> {
  const { resolver } = runOf(cluster);
  const source = resolver.source;
  if (cluster.mode === 'plan') {
    if (!(await artifactAvailableLocally(source, component, version, arch))) {
      const spec = artifactFor(component, version, arch);
      return { state: 'pending', reason: `${spec.fileName} is not in the local cache yet (up downloads and verifies it)` };
    }
    const artifact = await resolver.resolve(component, version, arch); // verified, nothing written
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kubi-plan-'));
    try {
      const extracted = await extractBinaries(artifact, tmp);
      return { state: 'ready', binaries: await readAll([...extracted.values()]), origin: artifact.spec.fileName };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
  const artifact = await resolver.resolve(component, version, arch);
  const extracted = await extractBinaries(artifact, resolver.cacheDir);
  return { state: 'ready', binaries: await readAll([...extracted.values()]), origin: artifact.spec.fileName };
}

async function readAll(list: { installPath: string; localPath: string; sha256: string; size: number; mode: number }[]): Promise<LoadedBinary[]> {
  const out: LoadedBinary[] = [];
  for (const b of list.sort((x, y) => x.installPath.localeCompare(y.installPath))) {
    const content = await fs.readFile(b.localPath);
    // extractBinaries hashed this very file a moment ago: planning on every host need not hash it again
    if (content.length === b.size) rememberSha256(content, b.sha256);
    out.push({ installPath: b.installPath, content, sha256: b.sha256, mode: b.mode });
  }
  return out;
}

/** The binaries of one component for one architecture in this run (loaded once per run). */
export function binariesFor(cluster: ClusterContext, component: Component, version: string, arch: Arch): Promise<BinarySet> {
  const r = runOf(cluster);
  const key = `${component}\0${version}\0${arch}`;
  let p = r.sets.get(key);
  if (!p) {
    p = load(cluster, component, version, arch);
    r.sets.set(key, p);
    p.catch(() => r.sets.delete(key));
  }
  return p;
}

/** Forget what this run loaded (after the artifacts step filled the cache in apply mode). */
export function forgetLoaded(cluster: ClusterContext): void {
  runs.get(cluster)?.sets.clear();
}
