/** planCmdline on the Bookworm and Bullseye fixtures, and its properties (fast-check). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MEMORY_CGROUP_ARGS, cmdlineHasMemoryCgroup, parseFacts, planCmdline } from '../../src/facts/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (name: string) => parseFacts(readFileSync(path.join(dir, name), 'utf8'));

describe('planCmdline on the Raspberry Pi fixtures', () => {
  it.each([
    ['rpi-os-bookworm-arm64.reconstructed.txt', '/boot/firmware/cmdline.txt'],
    ['rpi-os-bullseye-armhf-on-aarch64.reconstructed.txt', '/boot/cmdline.txt'],
  ])('%s: appends the memory cgroup args once, keeps the rest', (name, where) => {
    const pi = load(name).raspberryPi!;
    expect(pi.cmdlinePath).toBe(where);
    const current = `${pi.cmdline!}\n`;
    const plan = planCmdline(current);
    expect(plan.changed).toBe(true);
    expect(plan.next).toBe(`${pi.cmdline!} cgroup_memory=1 cgroup_enable=memory\n`);
    expect(planCmdline(plan.next)).toEqual({ changed: false, next: plan.next });
  });
});

describe('planCmdline rules', () => {
  it('does not touch a line that already has both (even without a trailing newline)', () => {
    const cur = 'console=tty1 root=/dev/mmcblk0p2 cgroup_enable=memory rootwait cgroup_memory=1';
    expect(planCmdline(cur)).toEqual({ changed: false, next: cur });
    expect(cmdlineHasMemoryCgroup(cur)).toBe(true);
  });

  it('adds only the missing one', () => {
    expect(planCmdline('root=/dev/sda2 cgroup_enable=memory\n').next).toBe('root=/dev/sda2 cgroup_enable=memory cgroup_memory=1\n');
  });

  it('removes duplicates and contradicting args', () => {
    const plan = planCmdline('a cgroup_memory=0 cgroup_disable=memory cgroup_enable=memory b cgroup_enable=memory\n');
    expect(plan).toEqual({ changed: true, next: 'a cgroup_enable=memory b cgroup_memory=1\n' });
  });

  it('keeps a single line: CRLF, extra spaces and blank lines are normalised', () => {
    expect(planCmdline('  console=tty1   rootwait \r\n\r\n').next).toBe('console=tty1 rootwait cgroup_memory=1 cgroup_enable=memory\n');
    expect(planCmdline('').next).toBe('cgroup_memory=1 cgroup_enable=memory\n');
  });

  const arg = fc
    .stringMatching(/^[a-z][a-z0-9_.,=:\/-]{0,20}$/)
    .filter((a) => !a.startsWith('cgroup_'));

  it('property: idempotent, keeps every other arg in order, each required arg exactly once, one line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(arg, fc.constantFrom(...MEMORY_CGROUP_ARGS)), { maxLength: 12 }),
        fc.constantFrom('', '\n', '\n\n', ' \n'),
        (args, ending) => {
          const current = args.join(' ') + ending;
          const { next } = planCmdline(current);
          expect(planCmdline(next)).toEqual({ changed: false, next });
          const lines = next.split('\n').filter((l) => l.trim() !== '');
          expect(lines).toHaveLength(1);
          const tokens = lines[0]!.trim().split(/\s+/);
          expect(tokens.filter((t) => !t.startsWith('cgroup_'))).toEqual(args.filter((a) => !a.startsWith('cgroup_')));
          for (const req of MEMORY_CGROUP_ARGS) expect(tokens.filter((t) => t === req)).toHaveLength(1);
        },
      ),
    );
  });
});
