/** src/render/diff.ts (unified diffs for plan); lives here because the engine owns diff.ts. */
import { applyPatch } from 'diff';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffStat, unifiedDiff } from '../../src/render/diff.js';

describe('unifiedDiff', () => {
  it('labels a/ b/ and /dev/null for new files, and is empty when equal', () => {
    expect(unifiedDiff('/etc/x', 'a\n', 'a\n')).toBe('');
    expect(unifiedDiff('/etc/x', null, 'a\nb\n')).toBe('--- /dev/null\n+++ b/etc/x\n@@ -0,0 +1,2 @@\n+a\n+b\n');
    expect(unifiedDiff('/etc/x', 'a\nb\nc\n', 'a\nB\nc\n')).toBe('--- a/etc/x\n+++ b/etc/x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
    expect(diffStat(unifiedDiff('/etc/x', 'a\nb\nc\n', 'a\nB\nc\nd\n'))).toEqual({ added: 2, removed: 1 });
  });

  it('marks a missing final newline', () => {
    expect(unifiedDiff('/x', 'a\n', 'a')).toContain('\\ No newline at end of file');
  });

  it('applying the diff to before gives after (property)', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', '', ' x', '+y', '-z', '@@', '\\ q'), { maxLength: 30 });
    fc.assert(
      fc.property(lines, lines, fc.boolean(), fc.boolean(), fc.boolean(), (b, a, bNl, aNl, isNew) => {
        const before = isNew ? null : b.join('\n') + (bNl && b.length ? '\n' : '');
        const after = a.join('\n') + (aNl && a.length ? '\n' : '');
        const d = unifiedDiff('/f', before, after);
        if ((before ?? null) === after) expect(d).toBe('');
        else expect(applyPatch(before ?? '', d)).toBe(after);
      }),
      { numRuns: 300 },
    );
  });
});
