/**
 * Backup and restore, the local halves: the snapshot check on load (a damaged snapshot is
 * refused), the state directory copy (0700/0600, runs/ and backups/ left out), the per-member
 * restore script (run for real with bash against stand-in etcd binaries on a temp directory: the
 * old data is moved aside and the restored member directory lands in place), snapshot status.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/inventory/schema.js';
import { copyTree, parseSnapshotStatus, sha256Hex } from '../../src/lifecycle/backup.js';
import { loadSnapshot, restoreMemberScript, restoredInitialCluster } from '../../src/lifecycle/restore.js';

const fx = (name: string) => readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name), 'utf8');
let tmp = '';
afterEach(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = '';
});

describe('snapshot files', () => {
  it('loads a backup directory whose sha256 matches; refuses a damaged one', async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-backup-'));
    const data = Buffer.from('pretend snapshot bytes');
    writeFileSync(path.join(tmp, 'etcd-snapshot.db'), data);
    writeFileSync(path.join(tmp, 'etcd-snapshot.db.sha256'), `${sha256Hex(data)}  etcd-snapshot.db\n`);
    writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify({ cluster: 'lab', createdAt: '2025-01-01T00:00:00.000Z', takenFrom: 'node2' }));
    const s = await loadSnapshot(tmp);
    expect(s).toMatchObject({ verified: true, sha256: sha256Hex(data), manifest: { takenFrom: 'node2' } });
    writeFileSync(path.join(tmp, 'etcd-snapshot.db'), Buffer.from('pretend snapshot bytes, damaged'));
    await expect(loadSnapshot(path.join(tmp, 'etcd-snapshot.db'))).rejects.toThrow(/does not match its sha256 file/);
    await expect(loadSnapshot(path.join(tmp, 'nope'))).rejects.toThrow(/does not exist/);
  });

  it('snapshot status (real etcdctl 3.4.23 output)', () => {
    expect(parseSnapshotStatus(fx('snapshot-status.json'))).toEqual({ revision: 0, totalKeys: 6 });
    expect(parseSnapshotStatus('Error: no such file')).toEqual({ revision: null, totalKeys: null });
  });

  it('copies the state directory: dirs 0700, files 0600, without runs/, backups/ and the lock', async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-state-'));
    const state = path.join(tmp, 'state');
    mkdirSync(path.join(state, 'pki'), { recursive: true });
    mkdirSync(path.join(state, 'runs'));
    mkdirSync(path.join(state, 'backups'));
    writeFileSync(path.join(state, 'pki', 'etcd-ca.key'), 'KEY');
    writeFileSync(path.join(state, 'pki', 'etcd-ca.crt'), 'CERT');
    chmodSync(path.join(state, 'pki', 'etcd-ca.crt'), 0o644);
    writeFileSync(path.join(state, 'lock'), '{}');
    writeFileSync(path.join(state, 'runs', 'x.log'), 'log');
    const skip = new Set(['runs', 'backups', 'lock']);
    const n = await copyTree(state, path.join(tmp, 'copy'), (name) => skip.has(name));
    expect(n).toBe(2);
    expect(readdirSync(path.join(tmp, 'copy')).sort()).toEqual(['pki']);
    expect(statSync(path.join(tmp, 'copy', 'pki')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(tmp, 'copy', 'pki', 'etcd-ca.crt')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(tmp, 'copy', 'pki', 'etcd-ca.key'), 'utf8')).toBe('KEY');
  });
});

describe('restore script', () => {
  const inv = Inventory.parse({
    cluster: { name: 'lab' },
    endpoint: { mode: 'none' },
    hosts: [1, 2, 3].map((i) => ({ name: `node${i}`, address: `10.0.0.1${i}`, roles: ['etcd', 'server'] })),
  });

  it('restores into a temporary directory inside the data directory, then moves member/ into place (stand-in etcdctl)', () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-restore-'));
    const dataDir = path.join(tmp, 'etcd');
    mkdirSync(path.join(dataDir, 'member'), { recursive: true });
    writeFileSync(path.join(dataDir, 'member', 'old'), 'old data');
    const snap = path.join(tmp, 'snap.db');
    writeFileSync(snap, 'snapshot');
    const script = restoreMemberScript({ host: inv.hosts[1]!, members: inv.hosts, dataDir, token: 'kubi-lab-etcd-restore-x', stamp: 'T1', snapshot: snap, sha256: sha256Hex(Buffer.from('snapshot')) });
    expect(script).toContain(`--initial-cluster=${restoredInitialCluster(inv.hosts)}`);
    expect(script).toContain('--initial-advertise-peer-urls=https://10.0.0.12:2380');
    expect(script).toContain('--initial-cluster-token=kubi-lab-etcd-restore-x');
    // stand-in for etcdctl: record the arguments, create <data-dir>/member like the real one
    const bin = path.join(tmp, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'etcdctl'), `#!/bin/bash\necho "$@" > ${tmp}/args\nfor a in "$@"; do case "$a" in --data-dir=*) d="\${a#--data-dir=}";; esac; done\n[ -e "$d" ] && { echo "data-dir exists" >&2; exit 1; }\nmkdir -p "$d/member" && echo restored > "$d/member/new"\n`);
    chmodSync(path.join(bin, 'etcdctl'), 0o755);
    const local = script.replaceAll('/usr/local/bin/etcdutl', path.join(bin, 'etcdutl')).replaceAll('/usr/local/bin/etcdctl', path.join(bin, 'etcdctl'));
    const out = execFileSync('bash', ['-c', local], { encoding: 'utf8' });
    expect(out).toContain('moved');
    expect(readFileSync(path.join(dataDir, 'member', 'new'), 'utf8')).toBe('restored\n');
    expect(readdirSync(dataDir)).toEqual(['member']);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(`${dataDir}.before-restore-T1`, 'member', 'old'), 'utf8')).toBe('old data');
    expect(existsSync(snap)).toBe(false);
    expect(readFileSync(path.join(tmp, 'args'), 'utf8')).toContain('--name=node2');
  });

  it('refuses a snapshot whose sha256 does not match on the member (nothing moved)', () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-restore-'));
    const dataDir = path.join(tmp, 'etcd');
    mkdirSync(path.join(dataDir, 'member'), { recursive: true });
    const snap = path.join(tmp, 'snap.db');
    writeFileSync(snap, 'snapshot, damaged in transit');
    const script = restoreMemberScript({ host: inv.hosts[0]!, members: inv.hosts, dataDir, token: 't', stamp: 'T2', snapshot: snap, sha256: sha256Hex(Buffer.from('snapshot')) });
    expect(() => execFileSync('bash', ['-c', script], { stdio: 'pipe' })).toThrow();
    expect(readdirSync(dataDir)).toEqual(['member']);
    expect(existsSync(`${dataDir}.before-restore-T2`)).toBe(false);
  });
});
