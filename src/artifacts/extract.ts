/**
 * extractBinaries: from a verified artifact to the binaries to install, keyed by install path,
 * each with its local file and sha256 (steps upload a binary only when the host's sha256 differs).
 *
 * Archives are unpacked with the system `tar` into
 * `<cacheDir>/extracted/<component>/<version>/<file>-<sha256 prefix>/`, once (a `.complete`
 * marker makes it reusable; the sha256 in the name means a different archive never reuses it).
 * Only regular files are taken; symlinks in an archive are never followed.
 *
 * The sha256 of each extracted binary is kept in `.sha256-manifest.json` beside them, with the
 * file's stat identity (device, inode, size, mtime and ctime in nanoseconds; see hash-record.ts):
 * later runs take the sha256 from there while the identity is unchanged, instead of hashing ~170 MiB of binaries every run (bench/: ~0.25 s of CPU per
 * converged `up`). Any change to a file changes its ctime.
 *
 * `readOnly` (plan mode): an archive already unpacked under the cache is used as it is (its
 * manifest read, never written); one that is not yet gives null, and nothing is written.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDir, writeFileAtomic } from '../fs-atomic.js';
import { ArtifactError } from './catalogue.js';
import type { ResolvedArtifact } from './cache.js';
import { fileIdentity, hashAndIdentify } from './hash-record.js';

const execFileP = promisify(execFile);
const COMPLETE = '.complete';
const MANIFEST = '.sha256-manifest.json';

interface ManifestEntry {
  identity: string;
  sha256: string;
}

async function readManifest(root: string): Promise<Record<string, ManifestEntry>> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(root, MANIFEST), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, ManifestEntry>) : {};
  } catch {
    return {};
  }
}

export interface ExtractedBinary {
  installPath: string;
  /** local file to upload */
  localPath: string;
  sha256: string;
  size: number;
  /** mode to install with */
  mode: number;
}

/** Regular files under `root`, as paths relative to it (posix separators), symlinks skipped. */
async function regularFiles(root: string, rel = ''): Promise<{ rel: string; mode: number }[]> {
  const out: { rel: string; mode: number }[] = [];
  for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await regularFiles(root, r)));
    else if (entry.isFile()) out.push({ rel: r, mode: (await fs.lstat(path.join(root, r))).mode });
  }
  return out;
}

function extractionDir(artifact: ResolvedArtifact, cacheDir: string): { parent: string; target: string } {
  const parent = path.join(cacheDir, 'extracted', artifact.spec.relativeDir);
  return { parent, target: path.join(parent, `${artifact.spec.fileName}-${artifact.sha256.slice(0, 16)}`) };
}

async function isUnpacked(target: string): Promise<boolean> {
  return fs.access(path.join(target, COMPLETE)).then(
    () => true,
    () => false,
  );
}

async function unpack(artifact: ResolvedArtifact, cacheDir: string): Promise<string> {
  const { parent, target } = extractionDir(artifact, cacheDir);
  if (await isUnpacked(target)) return target;
  await ensureDir(parent, 0o755);
  const tmp = path.join(parent, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(tmp, { mode: 0o755 });
  try {
    await execFileP('tar', ['-xzf', artifact.path, '-C', tmp, '--no-same-owner'], { maxBuffer: 4 * 1024 * 1024 });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    const stderr = (e as { stderr?: string }).stderr?.trim().split('\n').slice(-2).join(' | ') ?? String(e);
    throw new ArtifactError(
      'artifact-extract-failed',
      `cannot unpack ${artifact.path}: ${stderr}`,
      'the archive is damaged: delete it from the cache (or replace it in the offline directory) and try again',
      { cause: e },
    );
  }
  await fs.writeFile(path.join(tmp, COMPLETE), '');
  await fs.rm(target, { recursive: true, force: true });
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    // another process finished first: use its copy
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.access(path.join(target, COMPLETE)).catch(() => {
      throw e;
    });
  }
  return target;
}

function findMember(files: { rel: string }[], member: string): string | null {
  const want = member.replace(/^\.\//, '');
  const exact = files.find((f) => f.rel.replace(/^\.\//, '') === want);
  if (exact) return exact.rel;
  // tolerate another top-level directory name: a unique file with the same base name
  const base = want.split('/').pop();
  const byBase = files.filter((f) => f.rel.split('/').pop() === base);
  return byBase.length === 1 ? (byBase[0] as { rel: string }).rel : null;
}

export interface ExtractOptions {
  /** plan mode: write nothing; null when the archive is not unpacked under `cacheDir` yet */
  readOnly?: boolean;
}

/**
 * The binaries of a resolved artifact, keyed by install path. A bare binary maps to itself; an
 * archive is unpacked once under `cacheDir`. A required member that is missing is an error
 * naming what the archive does contain.
 */
export async function extractBinaries(artifact: ResolvedArtifact, cacheDir: string): Promise<Map<string, ExtractedBinary>>;
export async function extractBinaries(artifact: ResolvedArtifact, cacheDir: string, opts: ExtractOptions): Promise<Map<string, ExtractedBinary> | null>;
export async function extractBinaries(artifact: ResolvedArtifact, cacheDir: string, opts: ExtractOptions = {}): Promise<Map<string, ExtractedBinary> | null> {
  const { spec } = artifact;
  const result = new Map<string, ExtractedBinary>();
  if (spec.kind === 'binary') {
    for (const rule of spec.installs) {
      if (rule.kind !== 'file') continue;
      result.set(rule.installPath, {
        installPath: rule.installPath,
        localPath: artifact.path,
        sha256: artifact.sha256,
        size: artifact.size,
        mode: rule.mode,
      });
    }
    return result;
  }

  let root: string;
  if (opts.readOnly) {
    root = extractionDir(artifact, cacheDir).target;
    if (!(await isUnpacked(root))) return null;
  } else root = await unpack(artifact, cacheDir);
  const files = (await regularFiles(root)).filter((f) => f.rel !== COMPLETE && f.rel !== MANIFEST);
  const manifest = await readManifest(root);
  let manifestChanged = false;
  const add = async (rel: string, installPath: string, mode: number) => {
    const localPath = path.join(root, rel);
    const identity = await fileIdentity(localPath);
    const known = manifest[rel];
    let sha256 = known && known.identity === identity.text && /^[0-9a-f]{64}$/.test(known.sha256) ? known.sha256 : null;
    let size = identity.size;
    if (sha256 === null) {
      const h = await hashAndIdentify(localPath);
      sha256 = h.sha256;
      size = h.identity.size;
      // recorded only when the file did not change while it was hashed
      if (h.recordable) {
        manifest[rel] = { identity: h.identity.text, sha256 };
        manifestChanged = true;
      }
    }
    result.set(installPath, { installPath, localPath, sha256, size, mode });
  };
  for (const rule of spec.installs) {
    if (rule.kind === 'file') {
      const rel = findMember(files, rule.member);
      if (rel === null) {
        if (rule.optional) continue;
        throw new ArtifactError(
          'artifact-member-missing',
          `${spec.fileName} has no ${rule.member} (it holds: ${files.map((f) => f.rel).slice(0, 12).join(', ') || 'nothing'})`,
          'the archive does not have the upstream layout; rebuild it like the upstream release',
        );
      }
      await add(rel, rule.installPath, rule.mode);
    } else {
      const executables = files.filter((f) => (f.mode & 0o111) !== 0);
      if (executables.length === 0) {
        throw new ArtifactError('artifact-member-missing', `${spec.fileName} holds no executable files`, 'the archive is not a CNI plugins release');
      }
      for (const f of executables) {
        const name = f.rel.split('/').pop() as string;
        const installPath = `${rule.installDir}/${name}`;
        if (result.has(installPath)) {
          throw new ArtifactError('artifact-member-missing', `${spec.fileName} holds two files named ${name}`, 'rebuild the archive like the upstream release');
        }
        await add(f.rel, installPath, rule.mode);
      }
    }
  }
  if (manifestChanged && !opts.readOnly) await writeManifest(root, manifest);
  return result;
}

/** Atomic; best effort: a cache directory we cannot write only costs hashing next time. */
async function writeManifest(root: string, manifest: Record<string, ManifestEntry>): Promise<void> {
  await writeFileAtomic(path.join(root, MANIFEST), JSON.stringify(manifest) + '\n', 0o644).catch(() => undefined);
}
