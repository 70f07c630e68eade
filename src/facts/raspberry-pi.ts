/**
 * Raspberry Pi kernel command line: the pure rule that turns the memory cgroup on.
 *
 * cmdline.txt (/boot/firmware/cmdline.txt on Bookworm, /boot/cmdline.txt on older images) is a
 * single line of space-separated kernel arguments. k3s and the kubelet need the memory cgroup, so
 * `cgroup_memory=1 cgroup_enable=memory` must be on that line. The step that writes the file and
 * reboots (only when `changed`) lives in src/steps/host/; this is the decision only.
 */

/** The arguments that turn the memory cgroup on, in the order they are appended. */
export const MEMORY_CGROUP_ARGS = ['cgroup_memory=1', 'cgroup_enable=memory'] as const;

export interface CmdlinePlan {
  /** false: the file already has what is needed and must not be rewritten (no reboot) */
  changed: boolean;
  /** the full file content to write (identical to the input when unchanged) */
  next: string;
}

/**
 * Add `cgroup_memory=1 cgroup_enable=memory` to the kernel command line.
 * - keeps every other argument and its order; appends only what is missing;
 * - idempotent: planning the result again changes nothing;
 * - removes duplicates of the two arguments, a contradicting `cgroup_memory=<not 1>` and
 *   `cgroup_disable=memory` (which would switch the controller off again);
 * - writes one line ending in a single newline; any (ignored) lines after the first are kept.
 */
export function planCmdline(current: string): CmdlinePlan {
  const text = current.replace(/\r/g, '');
  const all = text.split('\n');
  const lineIndex = all.findIndex((l) => l.trim() !== '');
  const argsLine = lineIndex === -1 ? '' : (all[lineIndex] as string);
  const rest = lineIndex === -1 ? [] : all.slice(lineIndex + 1);

  const before = argsLine.trim().split(/\s+/).filter(Boolean);
  const after: string[] = [];
  const seen = new Set<string>();
  for (const arg of before) {
    if (arg === 'cgroup_disable=memory') continue;
    if (arg.startsWith('cgroup_memory=') && arg !== 'cgroup_memory=1') continue;
    if ((MEMORY_CGROUP_ARGS as readonly string[]).includes(arg)) {
      if (seen.has(arg)) continue;
      seen.add(arg);
    }
    after.push(arg);
  }
  for (const arg of MEMORY_CGROUP_ARGS) if (!seen.has(arg)) after.push(arg);

  const changed = after.join(' ') !== before.join(' ');
  if (!changed) return { changed: false, next: current };
  const tail = rest.join('\n');
  const next = `${after.join(' ')}\n${tail.trim() === '' ? '' : `${tail.replace(/\n+$/, '')}\n`}`;
  return { changed: true, next };
}

/** True when the command line already turns the memory cgroup on (planCmdline would not change it). */
export function cmdlineHasMemoryCgroup(current: string): boolean {
  return !planCmdline(current).changed;
}
