/**
 * Small file helpers of the lab: sha256 of files, and removing a tree only after nothing is mounted
 * below it (a crashed debootstrap or container can leave mounts behind; rm -rf through a live bind
 * mount would delete the host's files). Atomic writes and private directories: src/fs-atomic.ts.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { LocalRunner } from './exec.js';

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return h.digest('hex');
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir);
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const decoded = mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === root || decoded.startsWith(`${root}/`)) out.push(decoded);
  }
  return out.sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string, runner: LocalRunner): Promise<void> {
  for (const mp of mountsUnder(dir)) await runner.run(['umount', '-l', mp], { allowFailure: true });
  const left = mountsUnder(dir);
  if (left.length > 0) {
    throw new KubiError('lab-mounts-left', `cannot unmount ${left[0]}`, { hint: `unmount it by hand: umount -l ${left[0]}` });
  }
}

/** rm -rf, but never through a mount point. */
export async function removeTree(dir: string, runner: LocalRunner): Promise<void> {
  await unmountUnder(dir, runner);
  await rm(dir, { recursive: true, force: true });
}
