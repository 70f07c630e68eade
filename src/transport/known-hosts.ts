/**
 * Host keys of the cluster: `<stateDir>/known_hosts` (0600, written atomically), trust on first use.
 *
 * File format: OpenSSH known_hosts, so `ssh -o UserKnownHostsFile=<stateDir>/known_hosts` works too.
 * One line per host; the first host pattern is the inventory name, the second the address the
 * tool connects to (`addr` for port 22, `[addr]:port` otherwise):
 *
 *     node1,[10.77.0.11]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...
 *
 * The tool looks entries up by name (a host keeps its key when its address changes). Comment
 * lines and lines it does not understand (hashed `|1|` entries, `@` markers) are kept as they are.
 *
 * Pure parts: parse/format, fingerprints, the decision (`decideHostKey`). Effects: `KnownHostsFile`
 * (read, upsert, remove under an in-process lock) and `forgetHost`.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';

export const KNOWN_HOSTS_FILE = 'known_hosts';

export interface KnownHostEntry {
  /** inventory host name (or a jump host's alias) */
  name: string;
  /** address the tool connects to */
  address: string;
  port: number;
  /** e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa */
  keyType: string;
  /** base64 of the public key blob (SSH wire format) */
  keyBase64: string;
}

export type KnownHostsLine = { kind: 'entry'; entry: KnownHostEntry } | { kind: 'other'; raw: string };

export interface KnownHostsDoc {
  lines: KnownHostsLine[];
  /** lines that look like entries but cannot be used (reported, kept verbatim) */
  problems: { line: number; message: string }[];
}

export function knownHostsPath(stateDir: string): string {
  return path.join(stateDir, KNOWN_HOSTS_FILE);
}

/** `addr` for port 22, `[addr]:port` otherwise (OpenSSH's host pattern). */
export function formatHostPattern(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

export function parseHostPattern(pattern: string): { address: string; port: number } | null {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(pattern);
  if (bracketed) {
    const port = Number(bracketed[2]);
    if (port < 1 || port > 65535) return null;
    return { address: bracketed[1]!, port };
  }
  if (/^[^\s,[\]*?!]+$/.test(pattern)) return { address: pattern, port: 22 };
  return null;
}

const NAME_OK = /^[^\s,#*?!|@[\]]+$/;

export function parseKnownHosts(text: string): KnownHostsDoc {
  const lines: KnownHostsLine[] = [];
  const problems: KnownHostsDoc['problems'] = [];
  const raw = text.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  raw.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('@') || trimmed.startsWith('|')) {
      lines.push({ kind: 'other', raw: line });
      return;
    }
    const fields = trimmed.split(/\s+/);
    const [hosts, keyType, keyBase64] = fields;
    const patterns = (hosts ?? '').split(',');
    const name = patterns[0] ?? '';
    const addr = patterns[1] === undefined ? null : parseHostPattern(patterns[1]);
    let problem: string | null = null;
    if (!keyType || !keyBase64) problem = 'expected "<name>,<address> <key-type> <base64-key>"';
    else if (!NAME_OK.test(name)) problem = `"${name}" is not a host name`;
    else if (!addr) problem = `"${patterns[1] ?? ''}" is not an address or [address]:port`;
    else if (!isKeyBlobOfType(keyBase64, keyType)) problem = `the key is not valid base64 of a ${keyType} key`;
    if (problem || !addr || !keyType || !keyBase64) {
      problems.push({ line: i + 1, message: problem ?? 'unreadable line' });
      lines.push({ kind: 'other', raw: line });
      return;
    }
    lines.push({ kind: 'entry', entry: { name, address: addr.address, port: addr.port, keyType, keyBase64 } });
  });
  return { lines, problems };
}

export function formatKnownHostsLine(e: KnownHostEntry): string {
  return `${e.name},${formatHostPattern(e.address, e.port)} ${e.keyType} ${e.keyBase64}`;
}

export function formatKnownHosts(doc: KnownHostsDoc): string {
  const out = doc.lines.map((l) => (l.kind === 'entry' ? formatKnownHostsLine(l.entry) : l.raw));
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

export function findEntry(doc: KnownHostsDoc, name: string): KnownHostEntry | null {
  for (const l of doc.lines) if (l.kind === 'entry' && l.entry.name === name) return l.entry;
  return null;
}

/** Replace the entry of `entry.name` (all of them, if a hand-edited file has several) or append it. */
export function upsertEntry(doc: KnownHostsDoc, entry: KnownHostEntry): KnownHostsDoc {
  if (!NAME_OK.test(entry.name)) {
    throw new KubiError('invalid-host-name', `cannot record a host key for "${entry.name}": the name contains characters known_hosts cannot hold`, {
      hint: 'use a host name without spaces, commas, #, *, ?, !, |, @ or brackets',
    });
  }
  const lines: KnownHostsLine[] = [];
  let placed = false;
  for (const l of doc.lines) {
    if (l.kind === 'entry' && l.entry.name === entry.name) {
      if (!placed) lines.push({ kind: 'entry', entry });
      placed = true;
    } else lines.push(l);
  }
  if (!placed) lines.push({ kind: 'entry', entry });
  return { lines, problems: doc.problems };
}

export function removeEntry(doc: KnownHostsDoc, name: string): { doc: KnownHostsDoc; removed: KnownHostEntry | null } {
  const removed = findEntry(doc, name);
  const lines = doc.lines.filter((l) => !(l.kind === 'entry' && l.entry.name === name));
  return { doc: { lines, problems: doc.problems }, removed };
}

/** SHA256 fingerprint as `ssh-keygen -lf` prints it: `SHA256:` + unpadded base64 of sha256(key blob). */
export function fingerprintOf(keyBlob: Buffer | string): string {
  const blob = typeof keyBlob === 'string' ? Buffer.from(keyBlob, 'base64') : keyBlob;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (its first SSH string), or null. */
export function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : null;
}

function isKeyBlobOfType(b64: string, keyType: string): boolean {
  if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) return false;
  return keyTypeOfBlob(Buffer.from(b64, 'base64')) === keyType;
}

/** What to do with the key a host presents (pure). */
export type HostKeyDecision =
  | { kind: 'trusted' }
  | { kind: 'record' }
  | { kind: 'replace'; previous: KnownHostEntry }
  | { kind: 'refuse-unknown' }
  | { kind: 'refuse-mismatch'; previous: KnownHostEntry };

export interface HostKeyPolicy {
  /** refuse hosts without a recorded key instead of trusting them on first use */
  strictHostKeys?: boolean;
  /** replace a changed key (throw-away labs), reporting both fingerprints */
  acceptChangedHostKeys?: boolean;
}

export function decideHostKey(
  recorded: KnownHostEntry | null,
  presented: { keyType: string; keyBase64: string },
  policy: HostKeyPolicy,
): HostKeyDecision {
  if (!recorded) return policy.strictHostKeys ? { kind: 'refuse-unknown' } : { kind: 'record' };
  if (recorded.keyType === presented.keyType && recorded.keyBase64 === presented.keyBase64) return { kind: 'trusted' };
  return policy.acceptChangedHostKeys ? { kind: 'replace', previous: recorded } : { kind: 'refuse-mismatch', previous: recorded };
}

/** Reported for every key the tool records or replaces (the CLI prints it). */
export interface HostKeyEvent {
  kind: 'recorded' | 'replaced';
  host: string;
  address: string;
  port: number;
  keyType: string;
  fingerprint: string;
  previousKeyType?: string;
  previousFingerprint?: string;
  file: string;
}

export function hostKeyMismatchError(args: {
  host: string;
  address: string;
  port: number;
  recorded: KnownHostEntry;
  presented: { keyType: string; keyBase64: string };
  file: string;
  inventoryPath?: string;
}): KubiError {
  const was = `${args.recorded.keyType} ${fingerprintOf(args.recorded.keyBase64)}`;
  const now = `${args.presented.keyType} ${fingerprintOf(args.presented.keyBase64)}`;
  return new KubiError(
    'host-key-mismatch',
    `host key of ${args.host} (${args.address}:${args.port}) does not match the recorded one: recorded ${was}, presented ${now}`,
    {
      host: args.host,
      hint:
        `nothing was sent to the host. If ${args.host} was rebuilt, forget its old key with: ` +
        `kubi-provision forget-host ${args.inventoryPath ?? '<inventory>'} ${args.host} ` +
        `(keys are in ${args.file}); otherwise someone may be intercepting the connection`,
    },
  );
}

export function hostKeyUnknownError(args: { host: string; address: string; port: number; keyType: string; fingerprint: string; file: string }): KubiError {
  return new KubiError(
    'host-key-unknown',
    `host key of ${args.host} (${args.address}:${args.port}) is not recorded and strict host key checking is on: presented ${args.keyType} ${args.fingerprint}`,
    {
      host: args.host,
      hint: `verify the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${args.keyType.replace(/^ssh-/, '').replace(/-.*$/, '')}_key.pub) and add it to ${args.file}, or run once without strict host keys`,
    },
  );
}

const locks = new Map<string, Promise<unknown>>();

/** Run `fn` while holding the in-process lock of `key` (serialises read-modify-write of one file). */
async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** The known_hosts file of one state directory. */
export class KnownHostsFile {
  readonly path: string;

  constructor(file: string) {
    this.path = path.resolve(file);
  }

  static forStateDir(stateDir: string): KnownHostsFile {
    return new KnownHostsFile(knownHostsPath(stateDir));
  }

  async read(): Promise<KnownHostsDoc> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], problems: [] };
      throw new KubiError('known-hosts-unreadable', `cannot read ${this.path}: ${(e as Error).message}`, {
        hint: 'check the permissions of the state directory',
        cause: e,
      });
    }
    return parseKnownHosts(text);
  }

  async lookup(name: string): Promise<KnownHostEntry | null> {
    return findEntry(await this.read(), name);
  }

  async upsert(entry: KnownHostEntry): Promise<void> {
    await withLock(this.path, async () => {
      const doc = upsertEntry(await this.read(), entry);
      await this.write(doc);
    });
  }

  /** Remove the entry of `name`; returns what was removed (null when there was none; the file is then untouched). */
  async remove(name: string): Promise<KnownHostEntry | null> {
    return withLock(this.path, async () => {
      const { doc, removed } = removeEntry(await this.read(), name);
      if (removed) await this.write(doc);
      return removed;
    });
  }

  private async write(doc: KnownHostsDoc): Promise<void> {
    await writeFileAtomic(this.path, formatKnownHosts(doc), 0o600, { parentDirMode: 0o700 });
  }
}

/** Remove the recorded key of `hostName` from `<stateDir>/known_hosts`; null when none was recorded. */
export async function forgetHost(stateDir: string, hostName: string): Promise<KnownHostEntry | null> {
  return KnownHostsFile.forStateDir(stateDir).remove(hostName);
}
