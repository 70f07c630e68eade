/**
 * Reading the cluster's state directory from the k3s and CNI steps (the token, the pod subnet
 * allocation). This is the one place under src/steps/{k3s,cni} that touches the local file
 * system, on purpose and read-only: writes go through the engine's atomic writers
 * (src/engine/apply-local.ts, src/fs-atomic.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { insideStateDir } from '../../engine/apply-local.js';

export interface StateFile {
  content: string;
  /** permission bits */
  mode: number;
}

/** A file under the state directory (path relative to it), or null when it does not exist. */
export async function readStateFile(stateDir: string, rel: string): Promise<StateFile | null> {
  const abs = insideStateDir(stateDir, rel);
  try {
    const [content, st] = await Promise.all([readFile(abs, 'utf8'), stat(abs)]);
    return { content, mode: st.mode & 0o7777 };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
