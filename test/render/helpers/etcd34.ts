/**
 * Debian 12's etcd (3.4.23, what the lab runs): downloads the etcd-server package from Debian's
 * archive into a temporary directory (`apt-get download`, `dpkg-deb -x`), runs the real
 * `etcd --help` and parses the flags it lists. Any failure (no network, no apt) fails the test
 * that asked: nothing is skipped. The download happens once per test file; the directory is
 * removed by cleanup() (or kept while a caller still runs the binary).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Etcd34 {
  dir: string;
  binary: string;
  version: string;
  /** long flag names without dashes, as `etcd --help` lists them */
  flags: Set<string>;
  cleanup(): void;
}

/** Flag names from `etcd --help` output: lines like `  --name 'default'`. */
export function parseEtcdHelp(help: string): Set<string> {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s+--([a-z0-9][a-z0-9-]*)(\s|$)/.exec(line);
    if (m) flags.add(m[1]!);
  }
  return flags;
}

export function fetchEtcd34(): Etcd34 {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-etcd34-'));
  try {
    execFileSync('apt-get', ['download', 'etcd-server'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    const deb = readdirSync(dir).find((f) => f.startsWith('etcd-server_') && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download etcd-server left no .deb in ${dir}`);
    execFileSync('dpkg-deb', ['-x', deb, 'root'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const binary = path.join(dir, 'root/usr/bin/etcd');
    const versionOut = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const version = /etcd Version:\s*(\S+)/.exec(versionOut)?.[1];
    if (!version) throw new Error(`cannot read the version from: ${versionOut}`);
    const help = execFileSync(binary, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const flags = parseEtcdHelp(help);
    if (flags.size < 50) throw new Error(`etcd --help listed only ${flags.size} flags:\n${help}`);
    return { dir, binary, version, flags, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
