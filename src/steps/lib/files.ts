/**
 * Pure planning of files and directories against an Observation (see observe.ts), plus
 * `observeFiles` for the common "observe these paths" case. Plans carry `before` for diffs,
 * never for secret files.
 */
import { createHash } from 'node:crypto';
import { KubiError } from '../../errors.js';
import type { RemoteHost } from '../../transport/types.js';
import type { Change } from '../../engine/types.js';
import { observe, type Observation, type ObservedFile } from './observe.js';

export interface DesiredFile {
  path: string;
  content: string | Buffer;
  /** e.g. 0o644 */
  mode: number;
  owner?: string;
  group?: string;
  /** keys, tokens: content never shown, never read back */
  secret?: boolean;
  /**
   * sha256 of `content` when already known (verified binaries): planning compares it and reads
   * `content` only for a change, so a lazily loaded content (src/steps/artifacts/binaries.ts) is
   * never loaded on a converged host
   */
  sha256?: string;
}

export interface DesiredDir {
  path: string;
  mode: number;
  owner?: string;
  group?: string;
}

/**
 * sha256 of large Buffers already hashed in this process. Binaries (etcd, containerd, CNI: about
 * 170 MiB per host) are one Buffer each per run, planned on every host and fingerprinted by
 * their services: without this memo each is hashed once per host and use (bench/: ~1.8 s CPU of
 * a converged `up` on 3 hosts). Content Buffers handed to steps are never mutated.
 */
const bufferSha256 = new WeakMap<Buffer, string>();
const MEMO_MIN_BYTES = 64 * 1024;

export function sha256(content: string | Buffer): string {
  if (typeof content === 'string' || content.length < MEMO_MIN_BYTES) return createHash('sha256').update(content).digest('hex');
  let hex = bufferSha256.get(content);
  if (hex === undefined) {
    hex = createHash('sha256').update(content).digest('hex');
    bufferSha256.set(content, hex);
  }
  return hex;
}

/** sha256 of a desired file's content: the known one, or hashed (memoized for large Buffers). */
export function contentSha256(d: { content: string | Buffer; sha256?: string | undefined }): string {
  return d.sha256 ?? sha256(d.content);
}

/** Record a Buffer's sha256 computed elsewhere from the same bytes (a verified artifact), so `sha256()` need not hash it again. */
export function rememberSha256(content: Buffer, hex: string): void {
  if (content.length >= MEMO_MIN_BYTES) bufferSha256.set(content, hex);
}

/** Content as text for a diff, or undefined when it is binary (NUL bytes or invalid UTF-8). */
export function asText(buf: Buffer): string | undefined {
  if (buf.includes(0)) return undefined;
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) ? text : undefined;
}

/** Observe paths in one round trip; content of the non-listed-secret small files when withContent. */
export async function observeFiles(remote: RemoteHost, paths: readonly string[], opts: { withContent?: boolean; maxContentBytes?: number } = {}): Promise<Observation> {
  return observe(remote, {
    files: paths,
    content: opts.withContent === true,
    ...(opts.maxContentBytes !== undefined ? { maxContentBytes: opts.maxContentBytes } : {}),
  });
}

function observed(obs: Observation, path: string): ObservedFile {
  const f = obs.files.get(path);
  if (!f) {
    throw new KubiError('internal', `${path} was not observed`, { hint: 'include every planned path in the check (observeRequestFor does)' });
  }
  return f;
}

function ownershipDiffers(want: { owner?: string; group?: string }, have: ObservedFile): boolean {
  return (want.owner !== undefined && want.owner !== have.owner) || (want.group !== undefined && want.group !== have.group);
}

/** File changes that make `desired` true: create, update (with `before` when known) or chmod. */
export function planFiles(desired: readonly DesiredFile[], obs: Observation): Change[] {
  const changes: Change[] = [];
  for (const d of desired) {
    const have = observed(obs, d.path);
    const mode = d.mode & 0o7777;
    // `content` is touched only when a change is made (it may be loaded on first access)
    const base = () => ({
      kind: 'file' as const,
      path: d.path,
      content: d.content,
      mode,
      ...(d.owner !== undefined ? { owner: d.owner } : {}),
      ...(d.group !== undefined ? { group: d.group } : {}),
      ...(d.secret ? { secret: true } : {}),
    });
    if (have.type === 'missing') {
      changes.push({ ...base(), action: 'create', ...(d.secret ? {} : { before: null }) });
      continue;
    }
    if (have.type !== 'file') {
      throw new KubiError('path-not-a-file', `${d.path} exists but is a ${have.type === 'dir' ? 'directory' : 'special file'}`, {
        hint: `move it out of the way; the tool manages ${d.path} as a regular file`,
      });
    }
    if (have.sha256 !== contentSha256(d)) {
      const before = !d.secret && have.content ? asText(have.content) : undefined;
      changes.push({ ...base(), action: 'update', ...(before !== undefined ? { before } : {}) });
    } else if (have.mode !== mode || ownershipDiffers(d, have)) {
      changes.push({ ...base(), action: 'chmod' });
    }
  }
  return changes;
}

/** Directory changes (create, or fix mode/owner). */
export function planDirs(desired: readonly DesiredDir[], obs: Observation): Change[] {
  const changes: Change[] = [];
  for (const d of desired) {
    const have = observed(obs, d.path);
    if (have.type !== 'missing' && have.type !== 'dir') {
      throw new KubiError('path-not-a-directory', `${d.path} exists but is not a directory`, { hint: `move it out of the way; the tool needs ${d.path} as a directory` });
    }
    if (have.type === 'missing' || have.mode !== (d.mode & 0o7777) || ownershipDiffers(d, have)) {
      changes.push({
        kind: 'mkdir',
        path: d.path,
        mode: d.mode & 0o7777,
        ...(d.owner !== undefined ? { owner: d.owner } : {}),
        ...(d.group !== undefined ? { group: d.group } : {}),
      });
    }
  }
  return changes;
}

/** Deletions of paths that exist. */
export function planDeletes(paths: readonly string[], obs: Observation, opts: { recursive?: boolean } = {}): Change[] {
  return paths
    .filter((p) => observed(obs, p).type !== 'missing')
    .map((p) => ({ kind: 'delete' as const, path: p, ...(opts.recursive ? { recursive: true } : {}) }));
}
