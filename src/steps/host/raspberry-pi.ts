/**
 * `host.raspberry-pi` (does something only where facts.raspberryPi): the memory cgroup must be
 * on for k3s. `cgroup_memory=1 cgroup_enable=memory` go into the right cmdline.txt (the pure rule
 * is planCmdline in src/facts/raspberry-pi.ts); the host reboots only when cmdline.txt changed
 * (now, or in an earlier run that never rebooted: the running kernel lacks the arguments); the
 * step waits with the transport's rebootAndWait (a new boot id over a new SSH connection), then
 * insists the kernel booted with the arguments and the memory controller is really on.
 */
import { KubiError } from '../../errors.js';
import { applyChanges } from '../../engine/apply.js';
import type { Change, Step, StepContext } from '../../engine/types.js';
import { MEMORY_CGROUP_ARGS, planCmdline } from '../../facts/raspberry-pi.js';
import { quoteWord } from '../../transport/quote.js';
import { rebootAndWait } from '../../transport/reboot.js';
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

/**
 * After the reboot: the kernel must have booted with the arguments and the memory controller
 * must be on. Anything else fails here, clearly, instead of planning another reboot.
 */
export function verifyAfterReboot(o: PiObserved, host: string): void {
  if (!runningHasArgs(o.running)) {
    throw new KubiError('pi-cmdline-not-used', `rebooted, but the kernel did not boot with ${MEMORY_CGROUP_ARGS.join(' ')} (${o.cmdlinePath} has them)`, {
      host,
      hint: 'the boot loader reads another cmdline.txt (check cmdline= in config.txt) or the boot partition is not the one mounted; fix it and run again',
    });
  }
  if (!o.memoryController) {
    throw new KubiError('memory-cgroup-off', `rebooted with ${MEMORY_CGROUP_ARGS.join(' ')}, but the memory cgroup is still off`, {
      host,
      hint: 'check for cgroup_disable=memory in the boot configuration (config.txt, cmdline.txt) and that the kernel supports memory cgroups',
    });
  }
}

async function observe(ctx: StepContext, cmdlinePath: string): Promise<PiObserved> {
  const res = await ctx.remote.script(piScript(cmdlinePath), { mutating: false, label: 'observe kernel command line' });
  return parsePi(res.stdout, cmdlinePath);
}

export const hostRaspberryPi: Step<PiObserved> = {
  id: 'host.raspberry-pi',
  title: 'Turn the memory cgroup on for Raspberry Pis',
  async check(ctx) {
    const pi = ctx.facts.raspberryPi;
    const none = { cmdlinePath: null, cmdline: null, cmdlineMode: 0o644, running: '', bootId: '' };
    if (!pi) return { ...none, isPi: false, memoryController: ctx.facts.cgroup.memoryController };
    if (!pi.cmdlinePath) return { ...none, isPi: true, memoryController: false };
    return observe(ctx, pi.cmdlinePath);
  },
  plan(observed, ctx) {
    return planRaspberryPi(observed, ctx.host.name);
  },
  async apply(changes, ctx) {
    const reboot = changes.some((c) => c.kind === 'action' && c.title === REBOOT_TITLE);
    await applyChanges(ctx.remote, changes.filter((c) => c.kind !== 'action'));
    if (!reboot) return;
    const cmdlinePath = ctx.facts.raspberryPi?.cmdlinePath;
    if (!cmdlinePath) throw new KubiError('internal', 'a reboot was planned for a host that is not a Raspberry Pi with a cmdline.txt', { host: ctx.host.name });
    await rebootAndWait(ctx.remote, {
      timeoutMs: REBOOT_TIMEOUT_MS,
      onProgress: (m) => ctx.report(m),
      signal: ctx.cluster.signal,
      sleep: (ms) => ctx.cluster.sleep(ms),
      now: () => ctx.cluster.now().getTime(),
    });
    verifyAfterReboot(await observe(ctx, cmdlinePath), ctx.host.name);
  },
};
