/**
 * The lab's local Debian package repository: the packages the tool installs on hosts (conntrack,
 * socat, ipset, ebtables, keepalived) plus every dependency the image lacks, resolved by apt-get
 * against the IMAGE's dpkg status (`--download-only` with `Dir::State::status` pointing into the
 * rootfs, so the host's own package state is never touched), in a flat repository (dpkg-scanpackages,
 * Packages + Packages.gz + a Release file with checksums). Cached per image and package versions.
 * Nodes use it as their only apt source: `deb [trusted=yes] http://<bridge>:8080/ ./`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { LocalRunner } from './exec.js';
import { sha256 } from './fsutil.js';
import { TOOL_INSTALLED_PACKAGES } from './image-recipe.js';
import type { LabImage } from './image.js';

export interface RepoResult {
  dir: string;
  key: string;
  debs: string[];
  built: boolean;
}

/** `Version:` of each package's candidate, from `apt-cache show --no-all-versions` output (pure). */
export function parseAptCacheShow(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const pkg = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const ver = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
    if (pkg && ver && !out.has(pkg)) out.set(pkg, ver);
  }
  return out;
}

const versionMemo = new Map<string, string>();

/** What apt's answer depends on: the package lists and the apt configuration (by mtime). */
function aptStateKey(): string {
  return ['/var/lib/apt/lists', '/etc/apt/sources.list', '/etc/apt/sources.list.d', '/etc/apt/preferences.d']
    .map((p) => {
      try {
        return `${p}@${statSync(p).mtimeMs}`;
      } catch {
        return `${p}@-`;
      }
    })
    .join(' ');
}

/**
 * Candidate versions of Debian packages from this host's apt lists: remembered for the process,
 * and in `<cacheDir>/apt-candidates.json` until the apt lists or sources change (apt-cache takes
 * seconds on a busy machine, and every `lab up` needs these versions).
 */
export async function candidateVersions(pkgs: readonly string[], runner: LocalRunner, cacheDir?: string): Promise<Map<string, string>> {
  const key = aptStateKey();
  const cacheFile = cacheDir ? path.join(cacheDir, 'apt-candidates.json') : null;
  if (cacheFile && existsSync(cacheFile) && !pkgs.every((p) => versionMemo.has(p))) {
    try {
      const saved = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; versions: Record<string, string> };
      if (saved.key === key) for (const [p, v] of Object.entries(saved.versions)) versionMemo.set(p, v);
    } catch {
      /* rebuilt below */
    }
  }
  if (pkgs.every((p) => versionMemo.has(p))) return new Map(pkgs.map((p) => [p, versionMemo.get(p)!]));
  let r = await runner.run(['apt-cache', 'show', '--no-all-versions', ...pkgs], { allowFailure: true, quietStdout: true });
  if (r.exitCode !== 0) {
    // no package lists yet on this machine
    await runner.run(['apt-get', 'update', '-o', 'DPkg::Lock::Timeout=600'], { timeoutMs: 600_000 });
    r = await runner.run(['apt-cache', 'show', '--no-all-versions', ...pkgs], { quietStdout: true });
  }
  const versions = parseAptCacheShow(r.stdout);
  const missing = pkgs.filter((p) => !versions.has(p));
  if (missing.length) throw new KubiError('lab-packages', `apt knows no candidate for: ${missing.join(', ')}`, { hint: 'run apt-get update' });
  for (const [p, v] of versions) versionMemo.set(p, v);
  if (cacheFile) {
    await mkdir(path.dirname(cacheFile), { recursive: true });
    await writeFileAtomic(cacheFile, `${JSON.stringify({ key, versions: Object.fromEntries(versionMemo) }, null, 2)}\n`);
  }
  return new Map(pkgs.map((p) => [p, versions.get(p)!]));
}

/** A Release file for a flat repository (pure): lets apt verify Packages by checksum. */
export function renderRelease(files: readonly { name: string; content: Buffer }[], date: Date): string {
  const lines = ['Origin: kubi-lab', 'Label: kubi-lab', 'Suite: kubi-lab', 'Codename: kubi-lab', `Date: ${date.toUTCString()}`, 'Architectures: all amd64 arm64 armhf', 'Description: kubi-provision lab packages', 'SHA256:'];
  for (const f of files) lines.push(` ${sha256(f.content)} ${String(f.content.length).padStart(8)} ${f.name}`);
  return `${lines.join('\n')}\n`;
}

export async function ensureRepo(cacheDir: string, image: LabImage, runner: LocalRunner, say: (l: string) => void): Promise<RepoResult> {
  const versions = await candidateVersions(TOOL_INSTALLED_PACKAGES, runner);
  const key = sha256(JSON.stringify({ image: image.hash, pkgs: [...versions.entries()].sort() })).slice(0, 16);
  const dir = path.join(cacheDir, 'repo', key);
  if (existsSync(path.join(dir, 'Release'))) {
    return { dir, key, debs: readdirSync(dir).filter((f) => f.endsWith('.deb')), built: false };
  }
  say(`building the lab package repository (${TOOL_INSTALLED_PACKAGES.join(', ')} and their dependencies)`);
  const tmp = path.join(cacheDir, 'repo', `${key}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  const archives = path.join(tmp, 'archives');
  await mkdir(path.join(archives, 'partial'), { recursive: true });
  await mkdir(path.join(tmp, 'apt-cache'), { recursive: true });
  try {
    await runner.run(
      [
        'apt-get',
        '-o', 'Debug::NoLocking=1',
        '-o', `Dir::State::status=${path.join(image.rootfs, 'var/lib/dpkg/status')}`,
        '-o', `Dir::Cache=${path.join(tmp, 'apt-cache')}`,
        '-o', `Dir::Cache::archives=${archives}/`,
        '-o', 'Dir::Cache::pkgcache=',
        '-o', 'Dir::Cache::srcpkgcache=',
        '-o', 'APT::Install-Recommends=false',
        '-y', '--download-only', 'install',
        ...TOOL_INSTALLED_PACKAGES,
      ],
      { timeoutMs: 600_000 },
    );
    const debs = readdirSync(archives).filter((f) => f.endsWith('.deb'));
    for (const f of debs) await rename(path.join(archives, f), path.join(tmp, f));
    await rm(archives, { recursive: true, force: true });
    await rm(path.join(tmp, 'apt-cache'), { recursive: true, force: true });
    for (const p of TOOL_INSTALLED_PACKAGES) {
      if (!debs.some((d) => d.startsWith(`${p}_`))) throw new KubiError('lab-packages', `apt-get did not download ${p}`, { hint: `see ${runner.logFile ?? 'the lab log'}` });
    }
    const packages = Buffer.from(await runner.output(['dpkg-scanpackages', '-m', '.', '/dev/null'], { cwd: tmp, quietStdout: true }) + '\n');
    const gz = gzipSync(packages, { level: 9 });
    await writeFile(path.join(tmp, 'Packages'), packages);
    await writeFile(path.join(tmp, 'Packages.gz'), gz);
    await writeFile(
      path.join(tmp, 'Release'),
      renderRelease(
        [
          { name: 'Packages', content: packages },
          { name: 'Packages.gz', content: gz },
        ],
        new Date(),
      ),
    );
    if (existsSync(path.join(dir, 'Release'))) {
      // another lab process finished the same repository first (and may be serving it): keep theirs
      await rm(tmp, { recursive: true, force: true });
    } else {
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
    say(`package repository ready: ${debs.length} packages`);
    return { dir, key, debs, built: true };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Total size of the repository's packages (for the status output). */
export async function repoSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of readdirSync(dir)) total += (await stat(path.join(dir, f))).size;
  return total;
}

/** Check that the repository index lists every tool package (used by tests and status). */
export async function repoPackages(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, 'Packages'), 'utf8');
  return [...text.matchAll(/^Package:\s*(\S+)/gm)].map((m) => m[1]!);
}
