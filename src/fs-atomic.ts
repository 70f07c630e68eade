/**
 * The one place the tool writes local files atomically, and creates its private directories.
 * Used by every layer that writes on the workstation (state dir, PKI, known_hosts, artifact cache,
 * backups, lab files, CLI outputs); remote files go through transport/ instead.
 *
 * `writeFileAtomic`: a temp file beside the target (same directory, so the rename stays on one
 * file system), created exclusively (O_EXCL: never reuses or follows an existing path) with the
 * final mode from the start (0600 keys are never readable by others, not even briefly), written,
 * chmod'ed (the umask may have narrowed the create mode), fsynced, renamed over the target, then
 * the directory fsynced so the rename survives a crash. A reader sees the old file or the new
 * one, never half of one; a symlink at the target is replaced, not followed. On any failure the
 * temp file is removed and the target is untouched.
 *
 * Temp names are `.<name>.<pid>.<hex>.tmp` (the reliability suite looks for leftovers by that shape).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export interface WriteFileAtomicOptions {
  /**
   * Create missing parent directories first (mkdir -p) with this mode; existing ones are left as
   * they are. Without it a missing parent is an error (ENOENT).
   */
  parentDirMode?: number;
}

/** Where `writeFileAtomic(file)` puts its temp file (exported for tests and leftover checks). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export async function writeFileAtomic(
  file: string,
  content: string | Uint8Array,
  mode = 0o644,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = path.dirname(file);
  if (opts.parentDirMode !== undefined) await mkdir(dir, { recursive: true, mode: opts.parentDirMode });
  const tmp = tempPathFor(file);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(content);
      await fh.chmod(mode);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/**
 * Move a finished temp file (written and fsynced by the caller, in the target's directory) into
 * place, then fsync the directory. For content that is streamed rather than held in memory.
 */
export async function renameAtomic(tmp: string, file: string): Promise<void> {
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

/**
 * fsync a directory so a rename in it is durable. A directory the process may not open for
 * reading (EACCES/EPERM: write-only access) or a file system that cannot fsync directories
 * (EINVAL) is skipped: the rename itself has happened. A real I/O error is thrown.
 */
async function syncDir(dir: string): Promise<void> {
  let dh;
  try {
    dh = await open(dir, 'r');
  } catch (e) {
    if (isSkippable(e)) return;
    throw e;
  }
  try {
    await dh.sync();
  } catch (e) {
    if (!isSkippable(e)) throw e;
  } finally {
    await dh.close();
  }
}

function isSkippable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EINVAL' || code === 'ENOTSUP';
}

/**
 * mkdir -p, then make the last directory exactly `mode` (an existing one is tightened too; the
 * umask does not apply). Parents it creates get `mode` minus the umask. Default 0700: state dirs.
 */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const st = await stat(dir);
  if ((st.mode & 0o7777) !== mode) await chmod(dir, mode);
}
