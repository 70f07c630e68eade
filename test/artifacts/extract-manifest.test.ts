/**
 * The sha256 manifest of extracted binaries, on real archives (the offline fixture) and real
 * files: later runs take a binary's sha256 from the manifest while the file is untouched, and
 * hash it again as soon as it was written, chmod-ed or replaced.
 */
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactResolver, extractBinaries } from '../../src/artifacts/index.js';
import { V, buildOfflineDir, sha256 } from './offline-fixture.js';

let offline: string;
let cacheDir: string;

/** the extraction directory (the one with the `.complete` marker) holding a binary */
function extractionRoot(file: string): string {
  let dir = path.dirname(file);
  while (!existsSync(path.join(dir, '.complete'))) dir = path.dirname(dir);
  return dir;
}

beforeAll(() => {
  offline = mkdtempSync(path.join(os.tmpdir(), 'kubi-offline-'));
  buildOfflineDir(offline);
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'kubi-manifest-'));
});
afterAll(() => {
  rmSync(offline, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('sha256 manifest of extracted binaries', () => {
  it('is written on the first extraction and used while the files are untouched', async () => {
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
    const artifact = await r.resolve('etcd', V.etcd, 'amd64');
    const first = await extractBinaries(artifact, cacheDir);
    const etcd = first.get('/usr/local/bin/etcd')!;
    expect(etcd.sha256).toBe(sha256(etcd.localPath));
    const root = extractionRoot(etcd.localPath);
    const manifestFile = path.join(root, '.sha256-manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, { identity: string; sha256: string }>;
    const rel = path.relative(root, etcd.localPath);
    expect(manifest[rel]?.sha256).toBe(etcd.sha256);

    // proof that the manifest is what a later run reads: a different sha256 for the same identity wins
    manifest[rel] = { identity: manifest[rel]!.identity, sha256: 'c'.repeat(64) };
    writeFileSync(manifestFile, JSON.stringify(manifest));
    expect((await extractBinaries(artifact, cacheDir)).get('/usr/local/bin/etcd')!.sha256).toBe('c'.repeat(64));

    // written to: hashed again (and the manifest corrected)
    appendFileSync(etcd.localPath, '\n');
    const changed = (await extractBinaries(artifact, cacheDir)).get('/usr/local/bin/etcd')!;
    expect(changed.sha256).toBe(sha256(etcd.localPath));
    expect(JSON.parse(readFileSync(manifestFile, 'utf8'))[rel].sha256).toBe(changed.sha256);

    // chmod (ctime moves): not trusted
    const m2 = JSON.parse(readFileSync(manifestFile, 'utf8'));
    m2[rel].sha256 = 'd'.repeat(64);
    writeFileSync(manifestFile, JSON.stringify(m2));
    chmodSync(etcd.localPath, 0o700);
    expect((await extractBinaries(artifact, cacheDir)).get('/usr/local/bin/etcd')!.sha256).toBe(sha256(etcd.localPath));

    // replaced by another file (new inode): not trusted
    const m3 = JSON.parse(readFileSync(manifestFile, 'utf8'));
    m3[rel].sha256 = 'e'.repeat(64);
    writeFileSync(manifestFile, JSON.stringify(m3));
    const other = `${etcd.localPath}.new`;
    copyFileSync(etcd.localPath, other);
    renameSync(other, etcd.localPath);
    expect((await extractBinaries(artifact, cacheDir)).get('/usr/local/bin/etcd')!.sha256).toBe(sha256(etcd.localPath));
  });

  it('a damaged manifest is ignored (the binaries are hashed)', async () => {
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
    const artifact = await r.resolve('containerd', V.containerd, 'amd64');
    const first = await extractBinaries(artifact, cacheDir);
    const ctr = first.get('/usr/local/bin/ctr')!;
    writeFileSync(path.join(extractionRoot(ctr.localPath), '.sha256-manifest.json'), '{not json');
    const again = await extractBinaries(artifact, cacheDir);
    expect(again.get('/usr/local/bin/ctr')!.sha256).toBe(sha256(ctr.localPath));
    expect([...again.keys()]).toEqual([...first.keys()]);
  });
});
