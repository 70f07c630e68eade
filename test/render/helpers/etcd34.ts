/**
 * Debian 12's etcd (3.4.23, what the lab runs), downloaded from Debian's archive: the real
 * `etcd --help` is run and the flags it lists are parsed.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fetchDebianPackage } from './debian-package.js';

export interface Etcd34 {
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
  const pkg = fetchDebianPackage('etcd-server');
  try {
    const binary = path.join(pkg.root, 'usr/bin/etcd');
    const versionOut = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const version = /etcd Version:\s*(\S+)/.exec(versionOut)?.[1];
    if (!version) throw new Error(`cannot read the version from: ${versionOut}`);
    const help = execFileSync(binary, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const flags = parseEtcdHelp(help);
    if (flags.size < 50) throw new Error(`etcd --help listed only ${flags.size} flags:\n${help}`);
    return { binary, version, flags, cleanup: pkg.cleanup };
  } catch (e) {
    pkg.cleanup();
    throw e;
  }
}
