/**
 * rebootAndWait: reboot a host over its RemoteHost and wait until it is really back. Proof of a
 * reboot is a NEW boot id (/proc/sys/kernel/random/boot_id) read over a NEW connection: a
 * reconnect that lands on the old, still shutting-down system reads the old id and tries again.
 * Works on the RemoteHost interface only (reconnect() does the SSH part, see ssh.ts).
 */
import { KubiError, isKubiError } from '../errors.js';
import { formatMs } from './errors.js';
import type { RemoteHost } from './types.js';

export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
export const DEFAULT_REBOOT_TIMEOUT_MS = 300_000;

export interface RebootOptions {
  /** from issuing the reboot until the host must answer with a new boot id (default 300 s) */
  timeoutMs?: number;
  /** pause between tries while the old system is still up (default 2 s) */
  pollMs?: number;
  /** told "rebooting", "back after reboot" */
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Errors that mean "the host is (still) going away": retried while waiting. */
const TRANSIENT = new Set(['connection-lost', 'command-timeout', 'ssh-connect-failed', 'reconnect-timeout', 'ssh-channel-failed']);

export async function readBootId(remote: RemoteHost): Promise<string> {
  const res = await remote.exec(['cat', BOOT_ID_PATH], { mutating: false, label: 'read boot id' });
  const id = res.stdout.trim();
  if (!id) throw new KubiError('boot-id-unreadable', `${BOOT_ID_PATH} is empty on ${remote.name}`, { host: remote.name, hint: 'the host needs a Linux kernel with /proc mounted' });
  return id;
}

/**
 * Record the boot id, `systemctl reboot` (the connection dropping meanwhile is expected), then
 * reconnect until the host answers with a different boot id. Fails with `reboot-timeout` (what
 * it waited for, the host, the last error) or at once on a fatal error (host-key mismatch,
 * authentication, a reboot command that was refused).
 */
export async function rebootAndWait(remote: RemoteHost, opts: RebootOptions = {}): Promise<{ before: string; after: string }> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REBOOT_TIMEOUT_MS;
  const pollMs = opts.pollMs ?? 2_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const host = remote.name;

  const before = await readBootId(remote);
  opts.onProgress?.('rebooting');
  try {
    const r = await remote.exec(['systemctl', 'reboot'], { sudo: true, mutating: true, label: 'reboot', allowFailure: true, timeoutMs: 30_000 });
    // killed by a signal (>= 128): the shutdown got to the session first; anything else is a refusal
    if (r.exitCode !== 0 && r.exitCode < 128) {
      throw new KubiError('reboot-failed', `systemctl reboot failed on ${host} (exit ${r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`, {
        host,
        hint: `reboot ${host} by hand (systemctl reboot) and run again`,
      });
    }
  } catch (e) {
    if (!isKubiError(e) || !['connection-lost', 'command-timeout'].includes(e.code)) throw e;
  }

  const started = now();
  let last = 'no answer yet';
  for (;;) {
    const left = timeoutMs - (now() - started);
    if (left <= 0) break;
    if (opts.signal?.aborted) throw new KubiError('cancelled', `stopped while waiting for ${host} to come back after a reboot`, { host });
    try {
      await remote.reconnect({ timeoutMs: left, reason: 'reboot' });
      const after = await readBootId(remote);
      if (after !== before) {
        opts.onProgress?.('back after reboot');
        return { before, after };
      }
      last = 'it still answers with the old boot id (the reboot has not happened yet)';
    } catch (e) {
      if (!isKubiError(e) || !TRANSIENT.has(e.code)) throw e;
      last = e.message;
    }
    await sleep(Math.min(pollMs, Math.max(0, timeoutMs - (now() - started))));
  }
  throw new KubiError('reboot-timeout', `timed out after ${formatMs(timeoutMs)} waiting for ${host} to come back with a new boot id after a reboot; last: ${last}`, {
    host,
    hint: `check ${host}'s console; when it is back, run again`,
  });
}
