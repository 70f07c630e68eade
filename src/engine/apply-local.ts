/**
 * The generic executor for local (workstation) steps: file, mkdir and delete changes whose paths
 * are relative to the cluster's state directory. Files are written atomically; a path that would
 * leave the state directory is refused. Anything else needs the step's own apply.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fs-atomic.js';
import type { Change } from './types.js';

/** Resolve a state-relative path, refusing anything outside the state directory. */
export function insideStateDir(stateDir: string, rel: string): string {
  const abs = path.resolve(stateDir, rel);
  const root = path.resolve(stateDir);
  if (abs !== root && !abs.startsWith(root + path.sep)) {
    throw new KubiError('internal', `local change path ${rel} leaves the state directory`, { hint: 'local steps write only under the state directory' });
  }
  return abs;
}

export async function applyLocalChanges(stateDir: string, changes: readonly Change[]): Promise<void> {
  for (const c of changes) {
    if (c.kind !== 'mkdir' && c.kind !== 'file' && c.kind !== 'delete') {
      throw new KubiError('internal', `the local executor cannot apply a ${c.kind} change`, {
        hint: 'a local step that plans commands, services or actions must have its own apply()',
      });
    }
  }
  for (const c of changes) if (c.kind === 'mkdir') await ensureDir(insideStateDir(stateDir, c.path), c.mode);
  for (const c of changes) {
    if (c.kind === 'file') {
      const abs = insideStateDir(stateDir, c.path);
      await mkdir(path.dirname(abs), { recursive: true, mode: 0o700 });
      await writeFileAtomic(abs, c.content, c.mode);
    } else if (c.kind === 'delete') {
      await rm(insideStateDir(stateDir, c.path), { force: true, recursive: c.recursive === true });
    }
  }
}
