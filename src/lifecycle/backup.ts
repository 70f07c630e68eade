/**
 * `backup <inventory> [--output DIR]`: an etcd snapshot taken on a healthy member (any one),
 * fetched to the workstation and checked by sha256 against the member's own sum, saved with the
 * state directory (PKI, token, known_hosts, pod subnets: everything but runs/, backups/ and the
 * lock) and the inventory, into `<stateDir>/backups/<timestamp>/` (0700, files 0600) or DIR.
 *
 *   <dir>/etcd-snapshot.db          the snapshot
 *   <dir>/etcd-snapshot.db.sha256   "<sha256>  etcd-snapshot.db"
 *   <dir>/manifest.json             cluster, time, member it came from, etcd version, revision, keys
 *   <dir>/state/                    copy of the state directory
 *   <dir>/inventory.yaml            the inventory used
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fs-atomic.js';
import { etcdMembers } from '../render/cluster.js';
import { etcdPeerUrl } from '../render/etcd.js';
import { quoteWord } from '../transport/quote.js';
import { etcdctlShell } from '../steps/etcd/etcdctl.js';
import { describeProbes, findHealthyMember } from '../steps/lifecycle/etcd-cluster.js';
import { SECTION_FN, sections } from '../steps/host/script.js';
import { compactStamp } from './replace.js';
import type { Session } from './session.js';

export const SNAPSHOT_FILE = 'etcd-snapshot.db';
export const MANIFEST_FILE = 'manifest.json';
/** State directory entries a backup does not copy. */
const NOT_COPIED = new Set(['backups', 'runs', 'lock']);

export interface BackupManifest {
  kind: 'kubi-provision-backup';
  version: 1;
  cluster: string;
  createdAt: string;
  takenFrom: string;
  etcdVersion: string;
  snapshot: { file: string; sha256: string; bytes: number; revision: number | null; totalKeys: number | null };
  members: { name: string; peerURL: string }[];
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Pure: `etcdctl snapshot status -w json` -> revision and key count. */
export function parseSnapshotStatus(text: string): { revision: number | null; totalKeys: number | null } {
  const start = text.indexOf('{');
  if (start < 0) return { revision: null, totalKeys: null };
  try {
    const doc = JSON.parse(text.slice(start)) as { revision?: number; totalKey?: number };
    return { revision: typeof doc.revision === 'number' ? doc.revision : null, totalKeys: typeof doc.totalKey === 'number' ? doc.totalKey : null };
  } catch {
    return { revision: null, totalKeys: null };
  }
}

/** Copy a directory tree: directories 0700, files 0600 (symlinks and special files are skipped). */
export async function copyTree(from: string, to: string, skip: (name: string) => boolean = () => false): Promise<number> {
  await ensureDir(to, 0o700);
  let count = 0;
  for (const entry of await fs.readdir(from, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) count += await copyTree(src, dst);
    else if (entry.isFile()) {
      // a backup holds keys and the token: every file 0600, whatever it was
      await fs.copyFile(src, dst);
      await fs.chmod(dst, 0o600);
      count++;
    }
  }
  return count;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

export interface BackupOutcome {
  dir: string;
  manifest: BackupManifest;
}

export async function takeBackup(session: Session, opts: { output?: string; print(line: string): void }): Promise<BackupOutcome> {
  const inv = session.inventory;
  const candidates = etcdMembers(inv).map((h) => ({ name: h.name, remote: session.remotes.get(h.name) }));
  const found = await findHealthyMember(candidates, inv);
  if (!found.via) {
    throw new KubiError('etcd-no-healthy-member', `no healthy etcd member to take a snapshot from: ${describeProbes(found.probes)}`, {
      hint: 'a snapshot needs a member that is part of a quorum: bring the members back, or use an earlier backup',
    });
  }
  const { via, view } = found;
  const now = session.pace.now();
  const stamp = compactStamp(now);
  const dir = path.resolve(opts.output ?? path.join(session.stateDir, 'backups', stamp));
  if (!(await isEmptyOrMissing(dir))) {
    throw new KubiError('backup-exists', `${dir} exists and is not empty`, { hint: 'give --output a new or empty directory' });
  }

  const remotePath = `/var/tmp/kubi-etcd-snapshot-${stamp}-${process.pid}.db`;
  opts.print(`etcd: taking a snapshot on ${via.name}`);
  let data: Buffer;
  let remoteSum = '';
  let status: { revision: number | null; totalKeys: number | null };
  try {
    const script = `set -eu
umask 077
${SECTION_FN}
${etcdctlShell(['snapshot', 'save', remotePath], { commandTimeout: '300s' })} >/dev/null
test -s ${quoteWord(remotePath)}
s sum; sha256sum ${quoteWord(remotePath)} | cut -d' ' -f1
s status
if [ -x /usr/local/bin/etcdutl ]; then /usr/local/bin/etcdutl snapshot status ${quoteWord(remotePath)} -w json 2>/dev/null || true
else ETCDCTL_API=3 /usr/local/bin/etcdctl snapshot status ${quoteWord(remotePath)} -w json 2>/dev/null || true; fi
`;
    const res = await via.remote.script(script, { mutating: true, label: 'etcdctl snapshot save', timeoutMs: 600_000 });
    const sec = sections(res.stdout);
    remoteSum = sec('sum').trim();
    status = parseSnapshotStatus(sec('status'));
    const got = await via.remote.getFile(remotePath, { sudo: true });
    if (!got) throw new KubiError('backup-fetch', `the snapshot ${remotePath} vanished on ${via.name} before it was fetched`, { host: via.name });
    data = got;
  } finally {
    await via.remote.exec(['rm', '-f', '--', remotePath], { mutating: true, allowFailure: true, label: 'remove the remote snapshot' });
  }
  const sum = sha256Hex(data);
  if (!/^[0-9a-f]{64}$/.test(remoteSum) || sum !== remoteSum) {
    throw new KubiError('backup-checksum', `the fetched snapshot does not match the member's sha256 (${sum} here, ${remoteSum || 'none'} on ${via.name})`, {
      host: via.name,
      hint: 'take the backup again',
    });
  }

  await ensureDir(dir, 0o700);
  const write = (name: string, content: string | Buffer) => writeFileAtomic(path.join(dir, name), content, 0o600);
  await write(SNAPSHOT_FILE, data);
  await write(`${SNAPSHOT_FILE}.sha256`, `${sum}  ${SNAPSHOT_FILE}\n`);
  const stateFiles = await copyTree(session.stateDir, path.join(dir, 'state'), (name) => NOT_COPIED.has(name) || path.join(session.stateDir, name) === dir);
  await write('inventory.yaml', await fs.readFile(session.inventoryPath));
  const manifest: BackupManifest = {
    kind: 'kubi-provision-backup',
    version: 1,
    cluster: inv.cluster.name,
    createdAt: now.toISOString(),
    takenFrom: via.name,
    etcdVersion: view.version,
    snapshot: { file: SNAPSHOT_FILE, sha256: sum, bytes: data.length, revision: status.revision, totalKeys: status.totalKeys },
    members: etcdMembers(inv).map((h) => ({ name: h.name, peerURL: etcdPeerUrl(h) })),
  };
  await write(MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n');
  opts.print(`backup written to ${dir}: snapshot ${data.length} bytes, sha256 ${sum}${status.revision !== null ? `, revision ${status.revision}` : ''}; ${stateFiles} state files`);
  return { dir, manifest };
}
