/**
 * Pure rules of `host.kernel`: is a kernel module available, does a sysctl have its value, and
 * what to run to fix it. How "loaded" is observed matters: a module built into the kernel is
 * not in /proc/modules and often not in /sys/module either (br_netfilter built in shows no
 * /sys/module/br_netfilter), so each module is probed by what it provides: overlay by its entry
 * in /proc/filesystems, br_netfilter by /proc/sys/net/bridge, others by /sys/module/<name>.
 */
import { KubiError } from '../../errors.js';
import type { Change } from '../../engine/types.js';
import { quoteWord } from '../../transport/quote.js';
import { lines } from './script.js';

/** The bash test that succeeds when a module's function is available (loaded or built in). */
export function moduleProbe(module: string): string {
  if (module === 'overlay') return 'grep -qw overlay /proc/filesystems';
  if (module === 'br_netfilter') return '[ -d /proc/sys/net/bridge ]';
  return `{ [ -d /sys/module/${quoteWord(module)} ] || grep -q ${quoteWord(`^${module} `)} /proc/modules 2>/dev/null; }`;
}

export function sysctlPath(name: string): string {
  return `/proc/sys/${name.replace(/\./g, '/')}`;
}

/** Script lines printing `m <module> yes|no` and `k <name> <writable yes|no> <value or ->`. */
export function kernelStateScript(modules: readonly string[], sysctls: readonly (readonly [string, string])[]): string {
  const out: string[] = [];
  for (const m of modules) out.push(`if ${moduleProbe(m)}; then echo ${quoteWord(`m ${m} yes`)}; else echo ${quoteWord(`m ${m} no`)}; fi`);
  for (const [name] of sysctls) {
    const p = quoteWord(sysctlPath(name));
    out.push(
      `if [ -e ${p} ]; then w=no; [ -w ${p} ] && w=yes; printf 'k %s %s %s\\n' ${quoteWord(name)} "$w" "$(tr -s ' \\t' ' ' < ${p})"; else printf 'k %s no -\\n' ${quoteWord(name)}; fi`,
    );
  }
  return out.join('\n');
}

export interface KernelState {
  modules: Record<string, boolean>;
  /** name -> current value (null: the sysctl does not exist now) and whether it is writable */
  sysctls: Record<string, { value: string | null; writable: boolean }>;
}

export function parseKernelState(text: string): KernelState {
  const state: KernelState = { modules: {}, sysctls: {} };
  for (const line of lines(text)) {
    const parts = line.split(' ');
    if (parts[0] === 'm' && parts[1]) state.modules[parts[1]] = parts[2] === 'yes';
    if (parts[0] === 'k' && parts[1]) {
      const value = parts.slice(3).join(' ');
      state.sysctls[parts[1]] = { value: value === '-' || value === '' ? null : value, writable: parts[2] === 'yes' };
    }
  }
  return state;
}

/** Which module makes a sysctl appear (the bridge-nf-call-* ones exist only with br_netfilter). */
export function moduleOfSysctl(name: string): string | null {
  return name.startsWith('net.bridge.') ? 'br_netfilter' : null;
}

/**
 * Commands that bring the running kernel to the wanted state: `modprobe` first (so the bridge
 * sysctls exist), then one `sysctl -w` for every value that differs. In a container modules
 * cannot be loaded and read-only sysctls cannot be set from inside: that is an error with a
 * hint to do it on the container host, never a silent skip.
 */
export function planKernelNow(
  state: KernelState,
  modules: readonly string[],
  sysctls: readonly (readonly [string, string])[],
  opts: { container: string | null },
): Change[] {
  const changes: Change[] = [];
  const missing = modules.filter((m) => !state.modules[m]);
  if (missing.length > 0) {
    if (opts.container) {
      throw new KubiError('kernel-module-unavailable', `kernel module${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not available in this ${opts.container} container`, {
        hint: `a container shares the host's kernel: on the container host run modprobe ${missing.join(' ')}`,
      });
    }
    changes.push({ kind: 'command', title: `load kernel modules ${missing.join(', ')}`, argv: ['modprobe', '-a', ...missing] });
  }
  const toSet: string[] = [];
  for (const [name, want] of sysctls) {
    const cur = state.sysctls[name];
    const willExist = cur?.value != null || (moduleOfSysctl(name) !== null && missing.includes(moduleOfSysctl(name)!));
    if (!willExist) {
      throw new KubiError('sysctl-missing', `sysctl ${name} does not exist on this kernel`, {
        hint: moduleOfSysctl(name) ? `load ${moduleOfSysctl(name)} (modprobe ${moduleOfSysctl(name)})` : 'the kernel lacks this feature',
      });
    }
    if (cur?.value === want) continue;
    if (cur && cur.value !== null && !cur.writable) {
      throw new KubiError('sysctl-read-only', `sysctl ${name} is ${cur.value} and read-only here (wanted ${want})`, {
        hint: opts.container
          ? `set it on the container host (sysctl -w ${name}=${want}) or give the container a writable /proc/sys`
          : 'something mounted /proc/sys read-only; set it where it can be written',
      });
    }
    toSet.push(`${name}=${want}`);
  }
  if (toSet.length > 0) changes.push({ kind: 'command', title: `set sysctls ${toSet.join(' ')}`, argv: ['sysctl', '-w', ...toSet] });
  return changes;
}
