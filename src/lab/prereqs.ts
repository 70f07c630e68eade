/**
 * Host prerequisites of the lab: which commands each backend needs, from which Debian package, and
 * installing the missing ones through apt-get (or printing the exact command with --no-install or
 * when not root). The lab itself needs root and says so.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { Backend } from './config.js';
import type { LocalRunner } from './exec.js';

export interface Prerequisite {
  command: string;
  pkg: string;
}

const COMMON: Prerequisite[] = [
  { command: 'ip', pkg: 'iproute2' },
  { command: 'nsenter', pkg: 'util-linux' },
  { command: 'ssh', pkg: 'openssh-client' },
  { command: 'ssh-keygen', pkg: 'openssh-client' },
  { command: 'ssh-keyscan', pkg: 'openssh-client' },
  { command: 'debootstrap', pkg: 'debootstrap' },
  { command: 'apt-get', pkg: 'apt' },
  { command: 'dpkg-deb', pkg: 'dpkg' },
  { command: 'dpkg-scanpackages', pkg: 'dpkg-dev' },
  { command: 'tar', pkg: 'tar' },
  { command: 'gzip', pkg: 'gzip' },
];

const BY_BACKEND: Record<Backend, Prerequisite[]> = {
  container: [
    { command: 'lxc-start', pkg: 'lxc' },
    { command: 'lxc-stop', pkg: 'lxc' },
    { command: 'lxc-info', pkg: 'lxc' },
  ],
  vm: [
    { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
    { command: 'qemu-img', pkg: 'qemu-utils' },
    { command: 'mkfs.ext4', pkg: 'e2fsprogs' },
  ],
};

export function prerequisites(backend: Backend): Prerequisite[] {
  return [...COMMON, ...BY_BACKEND[backend]];
}

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findCommand(command: string, envPath = process.env.PATH ?? ''): string | null {
  const dirs = [...envPath.split(':').filter(Boolean), ...SEARCH_PATH];
  for (const d of dirs) {
    const p = path.join(d, command);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Packages that provide the missing commands (pure over the `has` probe). */
export function missingPackages(backend: Backend, has: (command: string) => boolean): string[] {
  const pkgs = new Set<string>();
  for (const p of prerequisites(backend)) if (!has(p.command)) pkgs.add(p.pkg);
  return [...pkgs].sort();
}

export function installCommand(pkgs: readonly string[]): string[] {
  return ['apt-get', 'install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', ...pkgs];
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new KubiError('lab-needs-root', `${what} needs root (network namespaces, lxc, qemu taps, debootstrap)`, {
      hint: 'run it with sudo, e.g. `sudo npx kubi-provision lab up`',
    });
  }
}

/**
 * Make sure the commands the backend needs exist; install the missing packages when allowed.
 * `say` receives what is about to happen (printed by the CLI).
 */
export async function ensurePrerequisites(
  backend: Backend,
  runner: LocalRunner,
  opts: { install: boolean; say: (line: string) => void },
): Promise<string[]> {
  const missing = missingPackages(backend, (c) => findCommand(c) !== null);
  if (missing.length === 0) return [];
  const cmd = installCommand(missing);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!opts.install || !isRoot) {
    throw new KubiError('lab-prerequisites', `the lab needs these host packages: ${missing.join(', ')}`, {
      hint: `install them with: ${isRoot ? '' : 'sudo '}${cmd.join(' ')}`,
    });
  }
  if (process.platform !== 'linux' || findCommand('apt-get') === null) {
    throw new KubiError('lab-prerequisites', `the lab needs ${missing.join(', ')} and this host has no apt-get`, {
      hint: 'install the equivalent packages with your package manager',
    });
  }
  opts.say(`installing host packages the lab needs: ${missing.join(', ')} (${cmd.join(' ')})`);
  const r = await runner.run(cmd, { allowFailure: true, timeoutMs: 900_000 });
  if (r.exitCode !== 0) {
    // the package lists may be missing on a fresh machine: update once, then retry
    await runner.run(['apt-get', 'update', '-o', 'DPkg::Lock::Timeout=600'], { timeoutMs: 600_000 });
    await runner.run(cmd, { timeoutMs: 900_000 });
  }
  return missing;
}
