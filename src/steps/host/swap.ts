/**
 * `host.swap`: swap off now (`swapoff -a`) and after a reboot: swap lines in /etc/fstab are
 * commented out (written atomically), and the units that create swap at boot (zram-generator's
 * systemd-zram-setup@zram0, zram-tools' zramswap, Raspberry Pi OS's dphys-swapfile) are masked.
 * In a container the swap devices in /proc/swaps belong to the container host's kernel: they are
 * never switched off from inside (that would change the host), which is reported, not hidden.
 */
import type { Change, Step } from '../../engine/types.js';
import { SECTION_FN, lines, parseKeyValues, sections } from './script.js';

/** Units that turn swap on at boot, masked when present. */
export const SWAP_UNITS = ['systemd-zram-setup@zram0.service', 'zramswap.service', 'dphys-swapfile.service'] as const;

/** The prefix put before an fstab swap line (recognised when planning again). */
export const FSTAB_DISABLED_PREFIX = '#kubi-provision: swap off# ';

/** Comment out every active swap entry of an fstab (pure, idempotent; keeps everything else byte for byte). */
export function commentSwapLines(fstab: string): { changed: boolean; next: string } {
  let changed = false;
  const next = fstab
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return line;
      const fields = trimmed.split(/\s+/);
      if (fields[2] === 'swap') {
        changed = true;
        return `${FSTAB_DISABLED_PREFIX}${line}`;
      }
      return line;
    })
    .join('\n');
  return { changed, next };
}

export interface UnitState {
  unit: string;
  /** loaded | not-found | masked | ... */
  loadState: string;
  activeState: string;
}

export interface SwapObserved {
  /** active swap devices from /proc/swaps */
  active: string[];
  /** /etc/fstab content, null when missing */
  fstab: string | null;
  /** mode of /etc/fstab (octal number) */
  fstabMode: number;
  units: UnitState[];
}

export function swapScript(): string {
  // one systemctl for every unit: it prints their properties as blocks separated by an empty
  // line, in order; each block goes under its unit's section
  return `${SECTION_FN}
s swaps; { read -r _; while IFS= read -r l; do printf '%s\\n' "$l"; done; } </proc/swaps 2>/dev/null
s fstab-mode; stat -c %a /etc/fstab 2>/dev/null
s fstab; base64 -w0 /etc/fstab 2>/dev/null
set -- ${SWAP_UNITS.map((u) => unitSection(u)).join(' ')}
s "$1"
systemctl show -p LoadState -p ActiveState -- ${SWAP_UNITS.join(' ')} 2>/dev/null | while IFS= read -r l; do
  if [ -z "$l" ]; then shift; [ $# -gt 0 ] && s "$1"; else printf '%s\\n' "$l"; fi
done
true
`;
}

export function unitSection(unit: string): string {
  return `unit-${unit.replace(/[^a-z0-9]/g, '-')}`;
}

export function parseSwap(output: string): SwapObserved {
  const sec = sections(output);
  const modeText = sec('fstab-mode').trim();
  return {
    active: lines(sec('swaps')).map((l) => l.split(/\s+/)[0] as string),
    fstab: modeText === '' ? null : Buffer.from(sec('fstab').trim(), 'base64').toString('utf8'),
    fstabMode: modeText ? parseInt(modeText, 8) : 0o644,
    units: SWAP_UNITS.map((unit) => {
      const kv = parseKeyValues(sec(unitSection(unit)));
      return { unit, loadState: kv.get('LoadState') ?? 'not-found', activeState: kv.get('ActiveState') ?? 'inactive' };
    }),
  };
}

export function planSwap(observed: SwapObserved, opts: { container: string | null }): Change[] {
  const changes: Change[] = [];
  if (observed.fstab !== null) {
    const { changed, next } = commentSwapLines(observed.fstab);
    if (changed) {
      changes.push({ kind: 'file', path: '/etc/fstab', content: next, mode: observed.fstabMode, before: observed.fstab, action: 'update' });
    }
  }
  for (const u of observed.units) {
    if (u.loadState === 'not-found' || u.loadState === 'masked') continue;
    changes.push({ kind: 'command', title: `mask ${u.unit} (no swap at boot)`, argv: ['systemctl', 'mask', '--now', u.unit] });
  }
  if (observed.active.length > 0 && !opts.container) {
    changes.push({ kind: 'command', title: `swapoff -a (${observed.active.join(', ')})`, argv: ['swapoff', '-a'] });
  }
  return changes;
}

export const hostSwap: Step<SwapObserved> = {
  id: 'host.swap',
  title: 'Turn swap off, now and at boot',
  async check(ctx) {
    const res = await ctx.remote.script(swapScript(), { label: 'observe swap', mutating: false, allowFailure: true });
    const observed = parseSwap(res.stdout);
    if (observed.active.length > 0 && ctx.facts.container) {
      ctx.report(`swap ${observed.active.join(', ')} belongs to the container host (${ctx.facts.container}): not switched off from inside`);
    }
    return observed;
  },
  plan(observed, ctx) {
    return planSwap(observed, { container: ctx.facts.container });
  },
};
