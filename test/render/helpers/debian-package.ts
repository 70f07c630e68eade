/**
 * Real binaries from Debian 12's archive for contract tests: `apt-get download <package>` into a
 * temporary directory and `dpkg-deb -x` it. A failure (no network, no apt) throws: the test that
 * asked fails, nothing is skipped. cleanup() removes the directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DebianPackage {
  /** the extracted file system root */
  root: string;
  /** the package version from the .deb file name */
  version: string;
  cleanup(): void;
}

export function fetchDebianPackage(name: string): DebianPackage {
  const dir = mkdtempSync(path.join(os.tmpdir(), `kubi-deb-${name}-`));
  try {
    execFileSync('apt-get', ['download', name], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    const deb = readdirSync(dir).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${name} left no .deb in ${dir}`);
    execFileSync('dpkg-deb', ['-x', deb, 'root'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    rmSync(path.join(dir, deb));
    const version = decodeURIComponent(deb.split('_')[1] ?? '');
    return { root: path.join(dir, 'root'), version, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
