/**
 * Local files written atomically: a temp file in the same directory (created with the final
 * mode, fsynced), then rename, then fsync of the directory. A reader sees the old file or the
 * new one, never half of one. Used by the PKI store and the artifact cache.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await fs.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or the open mode be ignored
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** Move a finished temp file into place (same file system), then fsync the directory. */
export async function renameAtomic(tmp: string, file: string): Promise<void> {
  await fs.rename(tmp, file);
  await syncDir(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r').catch(() => null);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close();
}

/** mkdir -p, then force the mode on the last directory (an existing directory is tightened too). */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.stat(dir);
  if ((st.mode & 0o777) !== mode) await fs.chmod(dir, mode);
}
