/**
 * SSH helpers of the lab, with the system OpenSSH client (the lab must work before and independently
 * of the tool's own transport): the lab key pair (ed25519, 0600, in the lab state dir), waiting until
 * a node accepts a real login (a timeout that says what it waited for, with the last error), and a
 * node's host key fingerprint via ssh-keyscan (to prove that `lab rebuild` gave it a new one).
 * Lab host keys change on every rebuild, so the lab's own ssh calls do not record them.
 */
import { existsSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { ensureDir } from '../fs-atomic.js';
import type { LocalRunner } from './exec.js';

export function labKeyPath(stateDir: string): string {
  return path.join(stateDir, 'keys', 'id_ed25519');
}

export async function ensureKeyPair(keyPath: string, runner: LocalRunner): Promise<void> {
  await ensureDir(path.dirname(keyPath), 0o700);
  if (existsSync(keyPath) && existsSync(`${keyPath}.pub`)) {
    await chmod(keyPath, 0o600);
    return;
  }
  await rm(keyPath, { force: true });
  await rm(`${keyPath}.pub`, { force: true });
  await runner.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kubi-lab', '-f', keyPath]);
  await chmod(keyPath, 0o600);
}

export function sshOptions(keyPath: string, connectTimeoutS = 3): string[] {
  return [
    '-i', keyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${connectTimeoutS}`,
  ];
}

export function sshArgv(keyPath: string, user: string, address: string, command: readonly string[] = [], extra: readonly string[] = []): string[] {
  return ['ssh', ...sshOptions(keyPath), ...extra, `${user}@${address}`, ...command];
}

export interface WaitForSshOptions {
  node: string;
  address: string;
  keyPath: string;
  user?: string;
  timeoutMs: number;
  /** what must be true besides a login, e.g. `systemctl is-system-running --wait` style probes */
  probe?: readonly string[];
  intervalMs?: number;
  /** checked between attempts; when it returns a reason, waiting stops with that reason */
  giveUp?: () => string | null;
}

/** Wait until the node accepts a real login (and the probe succeeds). */
export async function waitForSsh(runner: LocalRunner, opts: WaitForSshOptions): Promise<number> {
  const user = opts.user ?? 'root';
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const probe = opts.probe ?? ['true'];
  let last = 'no attempt finished';
  for (;;) {
    const r = await runner.run(sshArgv(opts.keyPath, user, opts.address, probe), { allowFailure: true, timeoutMs: 15_000 });
    if (r.exitCode === 0) return Date.now() - started;
    last = (r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.exitCode}`;
    const reason = opts.giveUp?.();
    if (reason) {
      throw new KubiError('lab-ssh-wait', `${opts.node}: stopped waiting for ssh on ${opts.address}: ${reason}`, { host: opts.node, hint: `last ssh error: ${last}` });
    }
    if (Date.now() >= deadline) {
      throw new KubiError(
        'lab-ssh-timeout',
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${user}@${opts.address} (${opts.node}) to accept an ssh login`,
        { host: opts.node, hint: `last ssh error: ${last}` },
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 300));
  }
}

/** SHA256 fingerprint (ssh-keygen -l format) of a node's ed25519 host key, via ssh-keyscan. */
export async function hostKeyFingerprint(runner: LocalRunner, address: string): Promise<string> {
  const scan = await runner.run(['ssh-keyscan', '-T', '5', '-t', 'ed25519', address], { allowFailure: true, timeoutMs: 20_000 });
  const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  if (!line) throw new KubiError('lab-keyscan', `ssh-keyscan got no ed25519 host key from ${address}`, { hint: scan.stderr.trim() });
  const fp = await runner.run(['ssh-keygen', '-l', '-f', '-'], { input: `${line}\n` });
  const m = /(SHA256:[A-Za-z0-9+/]+)/.exec(fp.stdout);
  if (!m) throw new KubiError('lab-keyscan', `cannot read the fingerprint of ${address}'s host key`);
  return m[1]!;
}
