import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FSTAB_DISABLED_PREFIX, commentSwapLines, parseSwap, planSwap, swapScript, unitSection } from '../../../src/steps/host/swap.js';

const FSTAB = [
  '# /etc/fstab: static file system information.',
  'UUID=1111-2222 /               ext4    errors=remount-ro 0       1',
  'UUID=3333-4444 none            swap    sw              0       0',
  '/swapfile      none            swap    defaults        0       0',
  'proc           /proc           proc    defaults        0       0',
  '',
].join('\n');

describe('commentSwapLines', () => {
  it('comments exactly the swap entries and keeps the rest byte for byte', () => {
    const { changed, next } = commentSwapLines(FSTAB);
    expect(changed).toBe(true);
    const lines = next.split('\n');
    expect(lines[2]).toBe(`${FSTAB_DISABLED_PREFIX}UUID=3333-4444 none            swap    sw              0       0`);
    expect(lines[3]).toBe(`${FSTAB_DISABLED_PREFIX}/swapfile      none            swap    defaults        0       0`);
    expect([lines[0], lines[1], lines[4], lines[5]]).toEqual([...FSTAB.split('\n').filter((_, i) => ![2, 3].includes(i))]);
  });

  it('is idempotent and never touches non-swap lines (property)', () => {
    const field = fc.stringMatching(/^[A-Za-z0-9=/_.,-]{1,12}$/);
    const entry = fc.tuple(field, field, fc.constantFrom('ext4', 'swap', 'proc', 'vfat', 'tmpfs'), field).map((f) => f.join(' '));
    const line = fc.oneof(entry, fc.constant(''), field.map((f) => `# ${f}`));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (ls) => {
        const text = ls.join('\n');
        const once = commentSwapLines(text);
        const twice = commentSwapLines(once.next);
        expect(twice.changed).toBe(false);
        expect(twice.next).toBe(once.next);
        const before = text.split('\n');
        const after = once.next.split('\n');
        expect(after).toHaveLength(before.length);
        before.forEach((l, i) => {
          if (l.split(/\s+/)[2] === 'swap' && !l.startsWith('#')) expect(after[i]).toBe(`${FSTAB_DISABLED_PREFIX}${l}`);
          else expect(after[i]).toBe(l);
        });
        expect(once.changed).toBe(before.some((l) => l.split(/\s+/)[2] === 'swap' && !l.startsWith('#')));
      }),
    );
  });
});

/** What swapScript prints (each marker is preceded by a newline, as `s` prints it). */
function output(o: { swaps?: string[]; fstab?: string | null; units?: Record<string, [string, string]> }): string {
  const parts = ['', '@@kubi:swaps@@', ...(o.swaps ?? [])];
  parts.push('', '@@kubi:fstab-mode@@', o.fstab === null ? '' : '644');
  parts.push('', '@@kubi:fstab@@', o.fstab === null || o.fstab === undefined ? '' : Buffer.from(o.fstab).toString('base64'));
  for (const [u, [load, active]] of Object.entries(o.units ?? {})) parts.push('', `@@kubi:${unitSection(u)}@@`, `LoadState=${load}`, `ActiveState=${active}`);
  return parts.join('\n') + '\n';
}

describe('host.swap plan', () => {
  it('the real script runs on this machine and parses (no swap here: nothing active)', () => {
    const observed = parseSwap(execFileSync('bash', ['-s'], { input: swapScript() }).toString());
    const procSwaps = execFileSync('bash', ['-c', 'tail -n +2 /proc/swaps']).toString().trim();
    expect(observed.active.length).toBe(procSwaps === '' ? 0 : procSwaps.split('\n').length);
    expect(observed.units.map((u) => u.unit)).toEqual(['systemd-zram-setup@zram0.service', 'zramswap.service', 'dphys-swapfile.service']);
  });

  it('Raspberry Pi OS: dphys-swapfile masked, fstab entry commented, swapoff -a', () => {
    const o = parseSwap(
      output({ swaps: ['/var/swap file 102396 0 -2'], fstab: FSTAB, units: { 'dphys-swapfile.service': ['loaded', 'active'], 'zramswap.service': ['not-found', 'inactive'] } }),
    );
    expect(o.fstab).toBe(FSTAB);
    const plan = planSwap(o, { container: null });
    expect(plan.map((c) => (c.kind === 'command' ? c.argv.join(' ') : `${c.kind} ${'path' in c ? c.path : ''}`))).toEqual([
      'file /etc/fstab',
      'systemctl mask --now dphys-swapfile.service',
      'swapoff -a',
    ]);
    expect(plan[0]).toMatchObject({ action: 'update', before: FSTAB, mode: 0o644 });
  });

  it('zram-generator and zram-tools units are masked', () => {
    const o = parseSwap(output({ swaps: ['/dev/zram0 partition 4G 0 100'], fstab: '', units: { 'systemd-zram-setup@zram0.service': ['loaded', 'active'], 'zramswap.service': ['loaded', 'inactive'] } }));
    expect(planSwap(o, { container: null }).map((c) => (c.kind === 'command' ? c.argv.join(' ') : c.kind))).toEqual([
      'systemctl mask --now systemd-zram-setup@zram0.service',
      'systemctl mask --now zramswap.service',
      'swapoff -a',
    ]);
  });

  it('converged: masked units, commented fstab, no active swap -> nothing', () => {
    const o = parseSwap(output({ fstab: commentSwapLines(FSTAB).next, units: { 'dphys-swapfile.service': ['masked', 'inactive'] } }));
    expect(planSwap(o, { container: null })).toEqual([]);
  });

  it('in a container the host kernel\'s swap is never switched off from inside', () => {
    const o = parseSwap(output({ swaps: ['/dev/sda2 partition 8G 0 -2'], fstab: '' }));
    expect(planSwap(o, { container: 'lxc' })).toEqual([]);
  });
});
