/**
 * `restore <inventory> <backup>`: rebuild the etcd cluster from ONE snapshot (docs/backup-restore.md).
 *
 *  1. the snapshot (a backup directory or the .db file) is checked against its sha256 file;
 *  2. every etcd host must be reachable; `up` runs on them until etcd.configure, so binaries,
 *     certificates and configuration are in place (a rebuilt host too);
 *  3. k3s is stopped on the servers where it runs (restarted at the end), etcd on every member;
 *  4. on every member: the snapshot is uploaded and checked, the current data directory is moved
 *     aside (<dataDir>.before-restore-<time>, never deleted), and the snapshot is restored into a
 *     fresh data directory with the member's name and peer URL, every member in the initial
 *     cluster, and a NEW initial-cluster token (the restored cluster is a new cluster: no member
 *     of the old one can ever talk to it);
 *  5. etcd starts on every member; the command waits until every member is healthy and the
 *     member list matches the inventory, then reports the revision and key count it serves.
 *
 * etcd 3.5+ restores with etcdutl (adding --bump-revision/--mark-compacted where it has them, so
 * Kubernetes watches start over cleanly); 3.4 with `etcdctl snapshot restore`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { Host } from '../inventory/schema.js';
import { etcdMembers, servers, slug } from '../render/cluster.js';
import { etcdClientUrl, etcdPeerUrl } from '../render/etcd.js';
import { quoteWord } from '../transport/quote.js';
import type { RemoteHost } from '../transport/types.js';
import { etcdctlShell, memberDifferences, parseEndpointHealth, parseMemberList } from '../steps/etcd/etcdctl.js';
import { etcdWaitTimeoutMs, expectedMembers } from '../steps/etcd/health.js';
import { SECTION_FN, sections } from '../steps/host/script.js';
import { moveDataAsideShell } from '../steps/lifecycle/data-dir.js';
import { MANIFEST_FILE, SNAPSHOT_FILE, sha256Hex, type BackupManifest } from './backup.js';
import { runUpPhase } from './phases.js';
import { compactStamp } from './replace.js';
import type { Session } from './session.js';

export const REMOTE_SNAPSHOT = '/var/lib/kubi-provision/restore/etcd-snapshot.db';

export interface LoadedSnapshot {
  file: string;
  data: Buffer;
  sha256: string;
  /** the sha256 file was there and matched (false: there was none) */
  verified: boolean;
  manifest: BackupManifest | null;
}

/** Read a backup directory or a snapshot file and check it against its `.sha256` file. */
export async function loadSnapshot(backup: string): Promise<LoadedSnapshot> {
  const abs = path.resolve(backup);
  let st;
  try {
    st = await fs.stat(abs);
  } catch {
    throw new KubiError('backup-missing', `${abs} does not exist`, { exitCode: 2, hint: 'give a backup directory written by kubi-provision backup, or its etcd-snapshot.db' });
  }
  const file = st.isDirectory() ? path.join(abs, SNAPSHOT_FILE) : abs;
  const dir = path.dirname(file);
  const data = await fs.readFile(file).catch(() => {
    throw new KubiError('backup-missing', `${file} cannot be read`, { exitCode: 2, hint: 'a backup directory holds etcd-snapshot.db' });
  });
  const sum = sha256Hex(data);
  let verified = false;
  const sumText = await fs.readFile(`${file}.sha256`, 'utf8').catch(() => null);
  if (sumText !== null) {
    const want = sumText.trim().split(/\s+/)[0] ?? '';
    if (want !== sum) {
      throw new KubiError('backup-checksum', `${file} does not match its sha256 file (${sum}, expected ${want})`, { exitCode: 2, hint: 'the snapshot is damaged: use another backup' });
    }
    verified = true;
  }
  const manifestText = await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => null);
  let manifest: BackupManifest | null = null;
  if (manifestText) {
    try {
      manifest = JSON.parse(manifestText) as BackupManifest;
    } catch {
      manifest = null;
    }
  }
  return { file, data, sha256: sum, verified, manifest };
}

/** Pure: the initial cluster of the restored cluster (every inventory member). */
export function restoredInitialCluster(members: readonly Host[]): string {
  return members.map((h) => `${h.name}=${etcdPeerUrl(h)}`).join(',');
}

/**
 * Pure: the shell that restores one member (run as root on it). The snapshot is restored into a
 * temporary directory INSIDE the data directory (the same file system, and etcdctl 3.4 refuses an
 * existing target), then its `member` directory is moved into place; the old contents were moved
 * aside first (data-dir.ts: the data directory may be a mount point).
 */
export function restoreMemberScript(args: { host: Host; members: readonly Host[]; dataDir: string; token: string; stamp: string; snapshot: string; sha256: string }): string {
  const d = quoteWord(args.dataDir);
  const tmpDir = `${args.dataDir}/kubi-restore-${args.stamp}`;
  const tmp = quoteWord(tmpDir);
  const common = [
    'snapshot',
    'restore',
    args.snapshot,
    `--name=${args.host.name}`,
    `--data-dir=${tmpDir}`,
    `--initial-cluster=${restoredInitialCluster(args.members)}`,
    `--initial-cluster-token=${args.token}`,
    `--initial-advertise-peer-urls=${etcdPeerUrl(args.host)}`,
  ]
    .map(quoteWord)
    .join(' ');
  return `set -eu
echo ${quoteWord(`${args.sha256}  ${args.snapshot}`)} | sha256sum -c --quiet -
${moveDataAsideShell(args.dataDir, `${args.dataDir}.before-restore-${args.stamp}`)}
if [ -x /usr/local/bin/etcdutl ]; then
  extra=''
  if /usr/local/bin/etcdutl snapshot restore --help 2>&1 | grep -q -- '--bump-revision'; then extra='--bump-revision=1000000000 --mark-compacted'; fi
  /usr/local/bin/etcdutl ${common} $extra
else
  ETCDCTL_API=3 /usr/local/bin/etcdctl ${common}
fi
mv ${quoteWord(`${tmpDir}/member`)} ${quoteWord(`${args.dataDir}/member`)}
rmdir ${tmp}
chmod 0700 ${d}
rm -f ${quoteWord(args.snapshot)}
`;
}

async function systemctl(remote: RemoteHost, args: string[], label: string): Promise<void> {
  await remote.exec(['systemctl', ...args], { mutating: true, label });
}

export interface RestoreOutcome {
  token: string;
  revision: number | null;
  keys: number | null;
  restartedK3s: string[];
}

export async function restoreCluster(session: Session, snapshot: LoadedSnapshot, opts: { print(line: string): void }): Promise<RestoreOutcome> {
  const inv = session.inventory;
  const print = opts.print;
  const members = etcdMembers(inv);
  const missing = members.filter((h) => !session.remotes.has(h.name));
  if (missing.length > 0) {
    throw new KubiError('host-unreachable', `restore needs every etcd member; unreachable: ${missing.map((h) => `${h.name} (${session.unreachable.get(h.name) ?? 'no connection'})`).join(', ')}`, {
      hint: 'bring them up (or take them out of the inventory), then run restore again',
    });
  }
  if (snapshot.manifest && snapshot.manifest.cluster !== inv.cluster.name) {
    print(`note: the backup is of cluster ${snapshot.manifest.cluster}, the inventory names ${inv.cluster.name}`);
  }
  const remote = (h: Host) => session.remotes.get(h.name)!;

  await runUpPhase(session, 'prepare the etcd hosts', members.map((h) => h.name), { until: 'etcd.configure' }, print);

  // stop what uses etcd, then etcd everywhere
  const runningK3s: Host[] = [];
  for (const s of servers(inv)) {
    const r = session.remotes.get(s.name);
    if (!r) continue;
    const res = await r.exec(['systemctl', 'is-active', 'k3s.service'], { allowFailure: true, mutating: false, label: 'is k3s running' });
    if (res.stdout.trim() === 'active') runningK3s.push(s);
  }
  for (const s of runningK3s) {
    print(`stopping k3s on ${s.name}`);
    await systemctl(remote(s), ['stop', 'k3s.service'], 'stop k3s');
  }
  print(`stopping etcd on ${members.map((h) => h.name).join(', ')}`);
  await Promise.all(members.map((h) => systemctl(remote(h), ['stop', 'etcd.service'], 'stop etcd')));

  const stamp = compactStamp(session.pace.now());
  const token = `kubi-${slug(inv.cluster.name)}-etcd-restore-${stamp.toLowerCase()}`;
  await Promise.all(
    members.map(async (h) => {
      const r = remote(h);
      await r.exec(['install', '-d', '-m', '0700', path.posix.dirname(REMOTE_SNAPSHOT)], { mutating: true, label: 'create the restore directory' });
      await r.putFile(REMOTE_SNAPSHOT, snapshot.data, { mode: 0o600, skipIfSame: false });
      const res = await r.script(restoreMemberScript({ host: h, members, dataDir: inv.etcd.dataDir, token, stamp, snapshot: REMOTE_SNAPSHOT, sha256: snapshot.sha256 }), {
        mutating: true,
        label: `restore the etcd snapshot on ${h.name}`,
        timeoutMs: 600_000,
      });
      print(`${h.name}: restored${/^moved$/m.test(res.stdout) ? ` (the data it had is in ${inv.etcd.dataDir}.before-restore-${stamp})` : ' (it had no data)'}`);
    }),
  );

  print('starting etcd on every member');
  await Promise.all(members.map((h) => systemctl(remote(h), ['start', '--no-block', 'etcd.service'], 'start etcd')));
  const result = await waitRestored(session, members);
  for (const s of runningK3s) {
    print(`starting k3s on ${s.name}`);
    await systemctl(remote(s), ['start', 'k3s.service'], 'start k3s');
  }
  print(`etcd restored: every member healthy, revision ${result.revision ?? '?'}, ${result.keys ?? '?'} keys, new cluster token ${token}`);
  return { token, ...result, restartedK3s: runningK3s.map((h) => h.name) };
}

/** Wait until every member answers healthy and the member list is the inventory's; then read revision and key count. */
async function waitRestored(session: Session, members: readonly Host[]): Promise<{ revision: number | null; keys: number | null }> {
  const inv = session.inventory;
  const endpoints = members.map((h) => etcdClientUrl(h));
  const timeoutMs = etcdWaitTimeoutMs(inv);
  const start = session.pace.now().getTime();
  let last = 'no answer yet';
  let i = 0;
  for (;;) {
    if (session.signal.aborted) throw new KubiError('cancelled', 'stopped while waiting for the restored cluster');
    const via = members[i++ % members.length]!;
    const script = `${SECTION_FN}
s health; ${etcdctlShell(['endpoint', 'health', '-w', 'json'], { endpoints, commandTimeout: '4s' })} 2>/dev/null
s members; ${etcdctlShell(['member', 'list', '-w', 'json'], { commandTimeout: '4s' })} 2>/dev/null
s count; ${etcdctlShell(['get', '', '--prefix', '--limit=1', '-w', 'json'], { commandTimeout: '10s' })} 2>/dev/null
true
`;
    const res = await session.remotes.get(via.name)!.script(script, { mutating: false, allowFailure: true, label: 'probe the restored cluster' });
    const sec = sections(res.stdout);
    const health = parseEndpointHealth(sec('health'));
    const list = parseMemberList(sec('members'));
    const unhealthy = endpoints.filter((u) => !health.some((h) => h.endpoint === u && h.health));
    const diff = list ? memberDifferences(expectedMembers(inv), list) : ['member list unreadable'];
    if (unhealthy.length === 0 && diff.length === 0) {
      // a range response's count is the number of keys in the whole range, whatever the limit
      const count = /"count":\s*(\d+)/.exec(sec('count'));
      const rev = /"revision":\s*(\d+)/.exec(sec('count'));
      return { keys: count ? Number(count[1]) : null, revision: rev ? Number(rev[1]) : null };
    }
    last = [...unhealthy.map((u) => `${u} not healthy`), ...diff].join('; ');
    if (session.pace.now().getTime() - start >= timeoutMs) {
      throw new KubiError('etcd-wait-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the restored cluster: ${last}`, {
        hint: 'check journalctl -u etcd on the members; the data from before the restore is in <dataDir>.before-restore-*',
      });
    }
    await session.pace.sleep(1000);
  }
}
