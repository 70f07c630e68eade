/**
 * `host.raspberry-pi` (does something only where facts.raspberryPi): the memory cgroup must be
 * on for k3s. `cgroup_memory=1 cgroup_enable=memory` go into the right cmdline.txt (the pure rule
 * is planCmdline in src/facts/raspberry-pi.ts); the host reboots only when the running kernel
 * does not have them yet; the step waits for the host to come back (a new boot id over a new SSH
 * connection), and the re-check then insists the memory controller is really on.
 */
import { KubiError, isKubiError } from '../../errors.js';
import { applyChanges } from '../../engine/apply.js';
import type { Change, Step, StepContext } from '../../engine/types.js';
import { MEMORY_CGROUP_ARGS, planCmdline } from '../../facts/raspberry-pi.js';
import { quoteWord } from '../../transport/quote.js';
import type { RemoteHost } from '../../transport/types.js';
import { SECTION_FN, lines, sections } from './script.js';

export interface PiObserved {
  isPi: boolean;
  cmdlinePath: string | null;
  /** content of cmdline.txt (null: missing) */
  cmdline: string | null;
  /** its mode as the file system reports it (a FAT boot partition fixes it; writing keeps it) */
  cmdlineMode: number;
  /** /proc/cmdline: what the running kernel booted with */
  running: string;
  memoryController: boolean;
  bootId: string;
}

export const REBOOT_TITLE = 'reboot so the kernel command line takes effect';
/** How long a Pi may take to come back after a reboot. */
export const REBOOT_TIMEOUT_MS = 10 * 60_000;

export function piScript(cmdlinePath: string): string {
  return `${SECTION_FN}
s cmdline; base64 -w0 ${quoteWord(cmdlinePath)} 2>/dev/null
s mode; stat -c %a ${quoteWord(cmdlinePath)} 2>/dev/null
s running; cat /proc/cmdline
s memory
if [ -r /sys/fs/cgroup/cgroup.controllers ]; then grep -qw memory /sys/fs/cgroup/cgroup.controllers && echo on || echo off
else awk '$1 == "memory" { print ($4 == 1 ? "on" : "off"); found = 1 } END { if (!found) print "off" }' /proc/cgroups; fi
s boot-id; cat /proc/sys/kernel/random/boot_id
`;
}

export function parsePi(output: string, cmdlinePath: string): PiObserved {
  const sec = sections(output);
  const b64 = sec('cmdline').trim();
  return {
    isPi: true,
    cmdlinePath,
    cmdline: b64 === '' ? null : Buffer.from(b64, 'base64').toString('utf8'),
    cmdlineMode: parseInt(sec('mode').trim() || '644', 8),
    running: sec('running').trim(),
    memoryController: lines(sec('memory'))[0] === 'on',
    bootId: sec('boot-id').trim(),
  };
}

function runningHasArgs(running: string): boolean {
  const args = running.split(/\s+/);
  return MEMORY_CGROUP_ARGS.every((a) => args.includes(a));
}

/** Pure: what to change on a Pi (nothing elsewhere). */
export function planRaspberryPi(o: PiObserved, host: string): Change[] {
  if (!o.isPi) return [];
  if (!o.cmdlinePath || o.cmdline === null) {
    throw new KubiError('pi-cmdline-missing', 'this Raspberry Pi has no cmdline.txt in /boot/firmware or /boot', {
      host,
      hint: 'mount the boot partition (/boot/firmware on Bookworm, /boot before) and run again',
    });
  }
  const changes: Change[] = [];
  const next = planCmdline(o.cmdline);
  if (next.changed) {
    changes.push({ kind: 'file', path: o.cmdlinePath, content: next.next, mode: o.cmdlineMode, before: o.cmdline, action: 'update' });
  }
  if (next.changed || !runningHasArgs(o.running)) {
    changes.push({ kind: 'action', title: REBOOT_TITLE, detail: [`${MEMORY_CGROUP_ARGS.join(' ')} in ${o.cmdlinePath}`], shell: 'systemctl reboot' });
    return changes;
  }
  if (!o.memoryController) {
    throw new KubiError('memory-cgroup-off', `the memory cgroup is still off although the kernel booted with ${MEMORY_CGROUP_ARGS.join(' ')}`, {
      host,
      hint: 'check for cgroup_disable=memory in the boot configuration (config.txt, cmdline.txt) and that the kernel supports memory cgroups',
    });
  }
  return [];
}

/** A RemoteHost that can open a fresh connection after the host rebooted. */
export interface Reconnectable {
  reconnect(opts?: { timeoutMs?: number }): Promise<void>;
}

function canReconnect(remote: RemoteHost): remote is RemoteHost & Reconnectable {
  return typeof (remote as Partial<Reconnectable>).reconnect === 'function';
}

function cannotReconnect(host: string): KubiError {
  return new KubiError('reboot-unsupported', 'this connection cannot reconnect after a reboot', {
    host,
    hint: `reboot ${host} yourself (systemctl reboot), then run up again`,
  });
}

async function bootId(remote: RemoteHost): Promise<string> {
  const res = await remote.exec(['cat', '/proc/sys/kernel/random/boot_id'], { mutating: false, label: 'read boot id' });
  return res.stdout.trim();
}

/** Reboot and wait until the host answers with a new boot id (so it really went down and came back). */
export async function rebootAndWait(ctx: StepContext, timeoutMs = REBOOT_TIMEOUT_MS): Promise<void> {
  const remote = ctx.remote;
  if (!canReconnect(remote)) throw cannotReconnect(ctx.host.name);
  const before = await bootId(remote);
  ctx.report('rebooting');
  try {
    await remote.exec(['systemctl', 'reboot'], { mutating: true, label: 'reboot', allowFailure: true, timeoutMs: 30_000 });
  } catch (e) {
    // the connection may drop before systemctl returns: that is the reboot happening
    if (!isKubiError(e) || !['connection-lost', 'command-timeout'].includes(e.code)) throw e;
  }
  const start = ctx.cluster.now().getTime();
  let last = 'no answer yet';
  for (;;) {
    const left = timeoutMs - (ctx.cluster.now().getTime() - start);
    if (left <= 0) break;
    if (ctx.cluster.signal.aborted) throw new KubiError('cancelled', 'stopped while waiting for the reboot', { host: ctx.host.name });
    try {
      await remote.reconnect({ timeoutMs: left });
      const now = await bootId(remote);
      if (now && now !== before) {
        ctx.report('back after reboot');
        return;
      }
      last = 'still the same boot (the reboot has not started yet)';
    } catch (e) {
      last = isKubiError(e) ? e.message : String(e);
    }
    await ctx.cluster.sleep(2000);
  }
  throw new KubiError('reboot-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the host to come back after a reboot; last: ${last}`, {
    host: ctx.host.name,
    hint: 'check the host\'s console; when it is back, run up again',
  });
}

export const hostRaspberryPi: Step<PiObserved> = {
  id: 'host.raspberry-pi',
  title: 'Turn the memory cgroup on for Raspberry Pis',
  async check(ctx) {
    const pi = ctx.facts.raspberryPi;
    const none = { cmdlinePath: null, cmdline: null, cmdlineMode: 0o644, running: '', bootId: '' };
    if (!pi) return { ...none, isPi: false, memoryController: ctx.facts.cgroup.memoryController };
    if (!pi.cmdlinePath) return { ...none, isPi: true, memoryController: false };
    const res = await ctx.remote.script(piScript(pi.cmdlinePath), { mutating: false, label: 'observe kernel command line' });
    return parsePi(res.stdout, pi.cmdlinePath);
  },
  plan(observed, ctx) {
    return planRaspberryPi(observed, ctx.host.name);
  },
  async apply(changes, ctx) {
    const reboot = changes.some((c) => c.kind === 'action' && c.title === REBOOT_TITLE);
    if (reboot && !canReconnect(ctx.remote)) throw cannotReconnect(ctx.host.name);
    await applyChanges(ctx.remote, changes.filter((c) => c.kind !== 'action'));
    if (reboot) await rebootAndWait(ctx);
  },
};
