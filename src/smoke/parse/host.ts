/**
 * The hosts layer's one read-only probe (swap, kernel modules, sysctls) and its pure parsers.
 *
 * Modules: a module counts as present when /proc/modules lists it (loadable, loaded), when
 * /sys/module/<name> exists, or when what it provides is visible (overlay in /proc/filesystems,
 * /proc/sys/net/bridge for br_netfilter): kernels with these built in (LXC lab nodes share the host
 * kernel, which may have no /proc/modules at all) show no module entry.
 * Sysctls are read from /proc/sys, never through the `sysctl` binary.
 */
import { splitSections } from '../../facts/parse.js';
import { quoteWord } from '../../transport/quote.js';

/** Functional evidence of a module whose absence from /proc/modules may mean "built in". */
const PROVIDES: Record<string, { section: 'filesystems' | 'bridge'; describe: string }> = {
  overlay: { section: 'filesystems', describe: 'overlay is in /proc/filesystems' },
  br_netfilter: { section: 'bridge', describe: '/proc/sys/net/bridge exists' },
};

export function hostProbeScript(modules: readonly string[], sysctls: readonly string[]): string {
  const mods = modules.map(quoteWord).join(' ');
  const keys = sysctls.map(quoteWord).join(' ');
  return [
    `s() { printf '\\n@@kubi:%s@@\\n' "$1"; }`,
    's swaps; cat /proc/swaps 2>/dev/null',
    "s modules; [ -r /proc/modules ] && awk '{print $1}' /proc/modules || echo '@@no-proc-modules'",
    `s sys-module; for m in ${mods}; do [ -d "/sys/module/$m" ] && echo "$m"; done; true`,
    "s filesystems; awk '{print $NF}' /proc/filesystems 2>/dev/null",
    's bridge; [ -d /proc/sys/net/bridge ] && echo present; true',
    `s sysctls; for k in ${keys}; do p="/proc/sys/$(printf '%s' "$k" | tr . /)"; if [ -r "$p" ]; then printf '%s=%s\\n' "$k" "$(cat "$p")"; else printf '%s\\n' "$k"; fi; done`,
    'true',
  ].join('\n');
}

export interface HostProbe {
  swapDevices: string[];
  /** null when the kernel has no /proc/modules (no loadable module support) */
  procModules: Set<string> | null;
  sysModules: Set<string>;
  filesystems: Set<string>;
  bridgeSysctls: boolean;
  /** sysctl name -> value; absent when the sysctl does not exist */
  sysctls: Map<string, string>;
}

export function parseHostProbe(output: string): HostProbe {
  const sec = splitSections(output);
  const lines = (name: string): string[] =>
    (sec.get(name) ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  const modulesLines = lines('modules');
  const sysctls = new Map<string, string>();
  for (const l of lines('sysctls')) {
    const eq = l.indexOf('=');
    if (eq > 0) sysctls.set(l.slice(0, eq), l.slice(eq + 1).trim());
  }
  return {
    swapDevices: parseSwaps(sec.get('swaps') ?? ''),
    procModules: modulesLines.includes('@@no-proc-modules') ? null : new Set(modulesLines),
    sysModules: new Set(lines('sys-module')),
    filesystems: new Set(lines('filesystems')),
    bridgeSysctls: lines('bridge').includes('present'),
    sysctls,
  };
}

/** /proc/swaps: a header line, then one line per active swap device. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((d) => d !== '');
}

export type ModuleState = { name: string; present: boolean; how: string };

export function moduleState(name: string, probe: HostProbe): ModuleState {
  if (probe.procModules?.has(name)) return { name, present: true, how: 'loaded' };
  if (probe.sysModules.has(name)) return { name, present: true, how: probe.procModules ? 'built in (/sys/module)' : 'built in' };
  const p = PROVIDES[name];
  if (p) {
    const ok = p.section === 'filesystems' ? probe.filesystems.has('overlay') : probe.bridgeSysctls;
    if (ok) return { name, present: true, how: `built in (${p.describe})` };
  }
  return { name, present: false, how: probe.procModules ? 'not loaded' : 'not present (no /proc/modules: the kernel has no loadable modules)' };
}

export interface SysctlMismatch {
  name: string;
  expected: string;
  actual: string | null;
}

export function sysctlMismatches(expected: readonly (readonly [string, string])[], probe: HostProbe): SysctlMismatch[] {
  const out: SysctlMismatch[] = [];
  for (const [name, want] of expected) {
    const got = probe.sysctls.get(name) ?? null;
    if (got === null || got.replace(/\s+/g, ' ') !== want) out.push({ name, expected: want, actual: got });
  }
  return out;
}
