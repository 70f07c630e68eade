/**
 * Workstation-side sha256 records: the proof that spares a converged run from hashing large local
 * files again (verified archives in the cache or the offline directory, extracted binaries).
 *
 * A record holds the file's stat identity (device, inode, size, mtime and ctime in nanoseconds)
 * and its sha256. It is trusted only while the identity is exactly the recorded one: any write,
 * truncation, chmod, chown or replacement of the file moves its ctime or inode, and ctime cannot
 * be set from user space. A record is made only when the identity did not change while the file
 * was hashed. The blind spot, as with git's index and the host-side records
 * (src/engine/checksum-records.ts), is a write landing within the same clock tick as the
 * record's own stat, right after the file's previous change.
 *
 * Records are written by apply-mode runs only: plan mode (and so a converged `up`, which is
 * checked in plan mode) reads them and writes nothing.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import { sha256File } from './checksums.js';

export interface FileIdentity {
  /** `dev ino size mtimeNs ctimeNs` */
  text: string;
  size: number;
}

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const st = await fs.stat(file, { bigint: true });
  return { text: `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`, size: Number(st.size) };
}

/** Hash `file` (streamed) and say whether the result may be recorded: the identity did not change while hashing. */
export async function hashAndIdentify(file: string): Promise<{ sha256: string; identity: FileIdentity; recordable: boolean }> {
  const before = await fileIdentity(file);
  const sha256 = await sha256File(file);
  const after = await fileIdentity(file);
  return { sha256, identity: after, recordable: before.text === after.text };
}

export type RecordMode = 'read-write' | 'read' | 'off';

export interface RecordOptions {
  /** the directory of the record files (one per hashed path) */
  dir: string;
  /** 'read': use records, never write one (plan mode); 'off': always hash. Default 'read-write'. */
  mode?: RecordMode;
}

interface RecordFile {
  v: 1;
  path: string;
  identity: string;
  sha256: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function recordFile(dir: string, file: string): string {
  return path.join(dir, `${createHash('sha256').update(path.resolve(file)).digest('hex')}.json`);
}

async function readRecord(dir: string, file: string): Promise<RecordFile | null> {
  try {
    const r = JSON.parse(await fs.readFile(recordFile(dir, file), 'utf8')) as Partial<RecordFile>;
    if (r.v !== 1 || r.path !== path.resolve(file) || typeof r.identity !== 'string' || typeof r.sha256 !== 'string' || !HEX64.test(r.sha256)) return null;
    return r as RecordFile;
  } catch {
    return null;
  }
}

/** Atomic (fs-atomic.ts); best effort: a record we cannot write only costs hashing next time. */
export async function writeRecord(dir: string, file: string, identity: string, sha256: string): Promise<void> {
  const body: RecordFile = { v: 1, path: path.resolve(file), identity, sha256 };
  await writeFileAtomic(recordFile(dir, file), JSON.stringify(body) + '\n', 0o644, { parentDirMode: 0o755 }).catch(() => undefined);
}

/**
 * The sha256 and size of a local file: from its record while the file's identity is unchanged,
 * hashed otherwise (and recorded when allowed). `fromRecord` says which.
 */
export async function recordedSha256(file: string, opts: RecordOptions): Promise<{ sha256: string; size: number; fromRecord: boolean }> {
  const mode = opts.mode ?? 'read-write';
  if (mode !== 'off') {
    const [identity, record] = await Promise.all([fileIdentity(file), readRecord(opts.dir, file)]);
    if (record && record.identity === identity.text) return { sha256: record.sha256, size: identity.size, fromRecord: true };
  }
  const h = await hashAndIdentify(file);
  if (mode === 'read-write' && h.recordable) await writeRecord(opts.dir, file, h.identity.text, h.sha256);
  return { sha256: h.sha256, size: h.identity.size, fromRecord: false };
}
