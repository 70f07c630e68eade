/**
 * Workstation side of binary distribution (the one module under src/steps/ that touches the
 * local file system, on purpose: it turns verified artifacts from src/artifacts into the file
 * contents host steps upload). Per run, one ArtifactResolver over the inventory's source, and per
 * (component, version, arch) the binaries with their verified sha256. A binary's bytes are read
 * on first access to its `content` (once per run, shared by every host), checked against that
 * sha256: a converged run compares sha256s only and never reads the ~170 MiB of binaries.
 *
 * Plan mode writes nothing locally: an artifact that is in the offline directory or already in
 * the cache is verified (sha256 records read, never written) and its binaries taken from the
 * archive already unpacked under the cache, or, when it is not unpacked yet, from a private
 * temporary directory (removed at once); one that would need a download is reported as pending
 * (`up` downloads it).
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ArtifactError,
  ArtifactResolver,
  artifactFor,
  extractBinaries,
  sourceFromInventory,
  type ArtifactSource,
  type Component,
  type ExtractedBinary,
} from '../../artifacts/index.js';
import type { ClusterContext } from '../../engine/types.js';
import type { Arch } from '../../inventory/schema.js';
import { rememberSha256, type DesiredFile } from '../lib/files.js';

export interface LoadedBinary {
  installPath: string;
  /** the local file the bytes come from */
  localPath: string;
  /** the bytes: read on first access (synchronously), checked against `sha256`, then kept */
  readonly content: Buffer;
  sha256: string;
  mode: number;
}

/** A verified binary whose bytes are read on first use; a file that no longer has the verified sha256 is refused. */
function lazyBinary(b: ExtractedBinary): LoadedBinary {
  let bytes: Buffer | undefined;
  return {
    installPath: b.installPath,
    localPath: b.localPath,
    sha256: b.sha256,
    mode: b.mode,
    get content(): Buffer {
      if (bytes === undefined) {
        const read = readFileSync(b.localPath);
        const actual = createHash('sha256').update(read).digest('hex');
        if (actual !== b.sha256) {
          throw new ArtifactError(
            'artifact-checksum-mismatch',
            `${b.localPath} changed after it was verified: its sha256 is ${actual}, expected ${b.sha256}`,
            'something wrote into the artifact cache during the run: it was not installed. Run again (the artifact is verified again)',
          );
        }
        rememberSha256(read, actual);
        bytes = read;
      }
      return bytes;
    },
  };
}

/**
 * The desired file of a binary on a host (root:root, at its install path with its mode unless
 * told otherwise). `content` stays lazy: planning compares `sha256`. Never spread this object
 * (`{ ...file }` would read the bytes); pass it on as it is.
 */
export function binaryFile(
  b: LoadedBinary,
  opts: { path?: string; mode?: number; owner?: string; group?: string } = {},
): DesiredFile & { content: Buffer; sha256: string } {
  return {
    path: opts.path ?? b.installPath,
    get content(): Buffer {
      return b.content;
    },
    sha256: b.sha256,
    mode: opts.mode ?? b.mode,
    owner: opts.owner ?? 'root',
    group: opts.group ?? 'root',
  };
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
    r = {
      resolver: new ArtifactResolver(artifactSource(cluster), { hashRecords: cluster.mode === 'plan' ? 'read' : 'read-write' }),
      sets: new Map(),
    };
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
    const unpacked = await extractBinaries(artifact, resolver.cacheDir, { readOnly: true });
    if (unpacked) return { state: 'ready', binaries: loadAll([...unpacked.values()]), origin: artifact.spec.fileName };
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kubi-plan-'));
    try {
      const extracted = await extractBinaries(artifact, tmp);
      const binaries = loadAll([...extracted.values()]);
      for (const bin of binaries) void bin.content; // read now: the temporary directory goes away
      return { state: 'ready', binaries, origin: artifact.spec.fileName };
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
  const artifact = await resolver.resolve(component, version, arch);
  const extracted = await extractBinaries(artifact, resolver.cacheDir);
  return { state: 'ready', binaries: loadAll([...extracted.values()]), origin: artifact.spec.fileName };
}

function loadAll(list: ExtractedBinary[]): LoadedBinary[] {
  return [...list].sort((x, y) => x.installPath.localeCompare(y.installPath)).map(lazyBinary);
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
