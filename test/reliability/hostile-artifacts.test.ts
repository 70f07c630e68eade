/**
 * Malicious artifacts (issue 10), on the workstation with the real resolver and the system tar.
 * The checksum protects against damage and substitution; these archives carry a MATCHING checksum
 * (someone controls the offline directory), so what is proven here is the next line of defence:
 * unpacking never writes outside the tool's own extraction directory, a symlink is never taken as
 * a binary, and a broken archive fails with an error naming the file. The checksum refusal on lab
 * nodes (tampered etcd tarball, nothing installed) is in security.hosts.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactResolver } from '../../src/artifacts/index.js';

const VERSION = 'v3.4.23';
const TOP = `etcd-${VERSION}-linux-amd64`;
const NAME = `${TOP}.tar.gz`;

let work: string;
let offline: string;
let cacheDir: string;
/** a directory outside everything the tool owns: an escaping member would land here */
let outside: string;

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function script(file: string, says: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\necho '${says}'\n`);
  chmodSync(file, 0o755);
}

/** Put an uncompressed tar into the offline directory as the etcd release, with a MATCHING SHA256SUMS. */
function publish(tarFile: string): string {
  const dir = path.join(offline, 'etcd', VERSION);
  mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, NAME);
  execFileSync('sh', ['-c', 'gzip -c -- "$1" > "$2"', 'sh', tarFile, archive]);
  writeFileSync(path.join(dir, 'SHA256SUMS'), `${sha256(archive)}  ${NAME}\n`);
  return archive;
}

/** A source tree with real etcd and etcdctl scripts at the release layout. */
function releaseTree(name: string): string {
  const d = path.join(work, name);
  script(path.join(d, TOP, 'etcd'), 'etcd Version: 3.4.23');
  script(path.join(d, TOP, 'etcdctl'), 'etcdctl version: 3.4.23');
  return d;
}

/** Every path under `dir` (for "nothing appeared here" assertions). */
function listAll(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

async function resolveEtcd(): Promise<Map<string, { localPath: string }>> {
  const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
  return r.binaries('etcd', VERSION, 'amd64');
}

function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a refusal, the artifact was accepted');
    },
    (e: unknown) => e as { code?: string; message: string },
  );
}

beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-art-'));
  offline = path.join(work, 'offline');
  cacheDir = path.join(work, 'cache');
  outside = path.join(work, 'outside');
  mkdirSync(outside);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('malicious etcd archives with a matching checksum', () => {
  it('control: the honest archive resolves to two regular binaries inside the cache', async () => {
    const src = releaseTree('honest');
    const tar = path.join(work, 'honest.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, TOP]);
    publish(tar);
    const bins = await resolveEtcd();
    expect([...bins.keys()].sort()).toEqual(['/usr/local/bin/etcd', '/usr/local/bin/etcdctl']);
    for (const b of bins.values()) {
      expect(b.localPath.startsWith(cacheDir + path.sep)).toBe(true);
      expect(lstatSync(b.localPath).isFile()).toBe(true);
    }
  });

  it('a "../" member is not written outside: the unpack fails, naming the archive', async () => {
    const src = releaseTree('dotdot');
    writeFileSync(path.join(src, 'escape'), 'pwned\n');
    const tar = path.join(work, 'dotdot.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, TOP]);
    // -P keeps the "../" prefix the transform adds (this is what a hostile archive holds)
    execFileSync('tar', ['-rPf', tar, '-C', src, '--transform', 's,^,../../outside/,', 'escape']);
    expect(execFileSync('tar', ['-tPf', tar], { encoding: 'utf8' })).toContain('../../outside/escape');
    const archive = publish(tar);
    const e = await rejection(resolveEtcd());
    expect(e.code).toBe('artifact-extract-failed');
    expect(e.message).toContain(archive);
    expect(listAll(outside)).toEqual([]);
    expect(existsSync(path.join(cacheDir, '..', 'outside', 'escape'))).toBe(false);
    // nothing half-unpacked is left for a later run to reuse
    expect(listAll(path.join(cacheDir, 'extracted')).filter((p) => p.includes('.complete'))).toEqual([]);
  });

  it('an absolute member lands inside the extraction directory, never at its absolute path', async () => {
    const src = releaseTree('absolute');
    const target = path.join(outside, 'abs-escape');
    writeFileSync(path.join(src, 'abs'), 'pwned\n');
    const tar = path.join(work, 'absolute.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, TOP]);
    execFileSync('tar', ['-rPf', tar, '-C', src, '--transform', `s,^abs$,${target},`, 'abs']);
    expect(execFileSync('tar', ['-tPf', tar], { encoding: 'utf8' })).toContain(target);
    publish(tar);
    // GNU tar strips the leading "/" (a warning, not a failure): the binaries still resolve
    const bins = await resolveEtcd();
    expect(bins.size).toBe(2);
    expect(existsSync(target)).toBe(false);
    expect(listAll(outside)).toEqual([]);
  });

  it('a symlink posing as etcdctl (-> /etc/passwd) is never taken as a binary', async () => {
    const src = path.join(work, 'symlink');
    script(path.join(src, TOP, 'etcd'), 'etcd Version: 3.4.23');
    symlinkSync('/etc/passwd', path.join(src, TOP, 'etcdctl'));
    const tar = path.join(work, 'symlink.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, TOP]);
    publish(tar);
    const e = await rejection(resolveEtcd());
    expect(e.code).toBe('artifact-member-missing');
    expect(e.message).toContain('etcdctl');
  });

  it('a symlinked directory followed by a file through it (the classic tar escape) writes nothing outside', async () => {
    const first = releaseTree('link-first');
    symlinkSync(outside, path.join(first, TOP, 'sub'));
    const second = path.join(work, 'link-second');
    mkdirSync(path.join(second, TOP, 'sub'), { recursive: true });
    writeFileSync(path.join(second, TOP, 'sub', 'escape'), 'pwned\n');
    const tar = path.join(work, 'linkdir.tar');
    execFileSync('tar', ['-cf', tar, '-C', first, TOP]);
    execFileSync('tar', ['-rf', tar, '-C', second, `${TOP}/sub/escape`]);
    publish(tar);
    const e = await rejection(resolveEtcd());
    expect(e.code).toBe('artifact-extract-failed');
    expect(listAll(outside)).toEqual([]);
  });

  it('a hard link to /etc/shadow is refused, naming the archive', async () => {
    const src = releaseTree('hardlink');
    writeFileSync(path.join(src, 'victim'), 'x');
    execFileSync('ln', [path.join(src, 'victim'), path.join(src, 'hl')]);
    const tar = path.join(work, 'hardlink.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, TOP]);
    // the two names become "/etc/shadow" and a hard link "hard" to it; deleting the first leaves
    // only the link member: "hard link to /etc/shadow"
    execFileSync('tar', ['-rPf', tar, '-C', src, '--transform', 's,^victim$,/etc/shadow,', '--transform', 's,^hl$,hard,', 'victim', 'hl']);
    execFileSync('tar', ['--delete', '-Pf', tar, '/etc/shadow']);
    expect(execFileSync('tar', ['-tvPf', tar], { encoding: 'utf8' })).toMatch(/^h.* hard link to \/etc\/shadow$/m);
    const archive = publish(tar);
    const e = await rejection(resolveEtcd());
    expect(e.code).toBe('artifact-extract-failed');
    expect(e.message).toContain(archive);
    expect(listAll(path.join(cacheDir, 'extracted')).some((p) => p.endsWith('hard'))).toBe(false);
  });

  it('an archive with a damaged gzip stream but a matching checksum fails, naming the file', async () => {
    const dir = path.join(offline, 'etcd', VERSION);
    mkdirSync(dir, { recursive: true });
    const archive = path.join(dir, NAME);
    writeFileSync(archive, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(512, 0x41)]));
    writeFileSync(path.join(dir, 'SHA256SUMS'), `${sha256(archive)}  ${NAME}\n`);
    const e = await rejection(resolveEtcd());
    expect(e.code).toBe('artifact-extract-failed');
    expect(e.message).toContain(archive);
  });
});
