/**
 * sha256 records of verified local files (src/artifacts/hash-record.ts) and their use by the
 * resolver and by plan-mode extraction, on real files and the real offline fixture: a record
 * spares the hash only while the file is untouched; any write, chmod or replacement is hashed
 * again, so a tampered archive is still refused; 'read' mode (plan) writes nothing.
 */
import { appendFileSync, chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactResolver, extractBinaries } from '../../src/artifacts/index.js';
import { recordedSha256 } from '../../src/artifacts/hash-record.js';
import { V, buildOfflineDir, sha256 } from './offline-fixture.js';

let offline: string;
let scratch: string;

beforeAll(() => {
  offline = mkdtempSync(path.join(os.tmpdir(), 'kubi-offline-'));
  buildOfflineDir(offline);
});
afterAll(() => rmSync(offline, { recursive: true, force: true }));
beforeEach(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kubi-hashrec-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** Overwrite the sha256 of the (only) record in `dir`, keeping its identity: proof that the record is what is read. */
function forgeRecordedSha(dir: string, hex: string): void {
  const [name] = readdirSync(dir).filter((n) => n.endsWith('.json'));
  const file = path.join(dir, name!);
  const rec = JSON.parse(readFileSync(file, 'utf8')) as { sha256: string };
  writeFileSync(file, JSON.stringify({ ...rec, sha256: hex }));
}

describe('recordedSha256', () => {
  it('records once, then answers from the record while the file is untouched', async () => {
    const file = path.join(scratch, 'blob');
    writeFileSync(file, 'hello world\n');
    const dir = path.join(scratch, 'records');
    const first = await recordedSha256(file, { dir });
    expect(first).toEqual({ sha256: sha256(file), size: 12, fromRecord: false });
    expect(await recordedSha256(file, { dir })).toEqual({ ...first, fromRecord: true });
    forgeRecordedSha(dir, 'a'.repeat(64));
    expect((await recordedSha256(file, { dir })).sha256).toBe('a'.repeat(64));
    // 'off' never reads records
    expect((await recordedSha256(file, { dir, mode: 'off' })).sha256).toBe(sha256(file));
  });

  it('a write, a chmod or a replacement of the file is hashed again', async () => {
    const file = path.join(scratch, 'blob');
    writeFileSync(file, 'one\n');
    const dir = path.join(scratch, 'records');
    await recordedSha256(file, { dir });

    forgeRecordedSha(dir, 'b'.repeat(64));
    appendFileSync(file, 'two\n');
    expect(await recordedSha256(file, { dir })).toMatchObject({ sha256: sha256(file), fromRecord: false });

    forgeRecordedSha(dir, 'c'.repeat(64));
    chmodSync(file, 0o600);
    expect(await recordedSha256(file, { dir })).toMatchObject({ sha256: sha256(file), fromRecord: false });

    forgeRecordedSha(dir, 'd'.repeat(64));
    copyFileSync(file, `${file}.new`);
    renameSync(`${file}.new`, file);
    expect(await recordedSha256(file, { dir })).toMatchObject({ sha256: sha256(file), fromRecord: false });
  });

  it("'read' mode uses records but never writes one", async () => {
    const file = path.join(scratch, 'blob');
    writeFileSync(file, 'x');
    const dir = path.join(scratch, 'records');
    expect(await recordedSha256(file, { dir, mode: 'read' })).toMatchObject({ sha256: sha256(file), fromRecord: false });
    expect(existsSync(dir)).toBe(false);
    await recordedSha256(file, { dir });
    expect((await recordedSha256(file, { dir, mode: 'read' })).fromRecord).toBe(true);
  });
});

describe('the resolver with records', () => {
  it('an archive tampered after it was recorded is still refused', async () => {
    const dir = path.join(scratch, 'offline');
    copyDir(offline, dir);
    const cacheDir = path.join(scratch, 'cache');
    const archive = path.join(dir, 'etcd', V.etcd, `etcd-${V.etcd}-linux-amd64.tar.gz`);
    const ok = await new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('etcd', V.etcd, 'amd64');
    expect(ok.sha256).toBe(sha256(archive));
    expect(readdirSync(path.join(cacheDir, 'verified'))).toHaveLength(1);

    appendFileSync(archive, 'x');
    await expect(new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('etcd', V.etcd, 'amd64')).rejects.toMatchObject({
      code: 'artifact-checksum-mismatch',
    });
  });

  it('a checksum file changed after the record is compared again (the record never stands for it)', async () => {
    const dir = path.join(scratch, 'offline');
    copyDir(offline, dir);
    const cacheDir = path.join(scratch, 'cache');
    await new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('runc', V.runc, 'amd64');
    writeFileSync(path.join(dir, 'runc', V.runc, 'runc.sha256sum'), `${'e'.repeat(64)}  runc.amd64\n`);
    await expect(new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('runc', V.runc, 'amd64')).rejects.toMatchObject({
      code: 'artifact-checksum-mismatch',
    });
  });

  it("hashRecords 'read' (plan mode) writes nothing into the cache", async () => {
    const cacheDir = path.join(scratch, 'cache');
    await new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir }, { hashRecords: 'read' }).resolve('cni', V.cni, 'amd64');
    expect(existsSync(cacheDir)).toBe(false);
  });
});

describe('extractBinaries readOnly (plan mode)', () => {
  it('null while the archive is not unpacked (nothing written), the unpacked binaries afterwards (manifest not written)', async () => {
    const cacheDir = path.join(scratch, 'cache');
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir }, { hashRecords: 'read' });
    const artifact = await r.resolve('etcd', V.etcd, 'amd64');
    expect(await extractBinaries(artifact, cacheDir, { readOnly: true })).toBeNull();
    expect(existsSync(cacheDir)).toBe(false);

    const written = await extractBinaries(artifact, cacheDir);
    const etcd = written.get('/usr/local/bin/etcd')!;
    let dir = path.dirname(etcd.localPath);
    while (!existsSync(path.join(dir, '.complete'))) dir = path.dirname(dir);
    rmSync(path.join(dir, '.sha256-manifest.json'));

    const read = await extractBinaries(artifact, cacheDir, { readOnly: true });
    expect(read && [...read.entries()]).toEqual([...written.entries()]);
    expect(existsSync(path.join(dir, '.sha256-manifest.json'))).toBe(false);
  });
});

function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}
