/**
 * Unified diffs for `plan` (built on the `diff` package). Pure. Callers pass text only: secret
 * and binary files are summarised by the report, never diffed.
 */
import { createTwoFilesPatch } from 'diff';

export interface DiffOptions {
  /** lines of context around each change (default 3) */
  context?: number;
}

/**
 * A unified diff from `before` (null: the file does not exist yet) to `after`, labelled with
 * `path` (`--- a/path` / `+++ b/path`, `/dev/null` for a new file). Returns "" when equal.
 * A missing final newline is marked the standard way (`\ No newline at end of file`).
 */
export function unifiedDiff(path: string, before: string | null, after: string, opts: DiffOptions = {}): string {
  if (before === after) return '';
  const oldName = before === null ? '/dev/null' : `a${path.startsWith('/') ? '' : '/'}${path}`;
  const newName = `b${path.startsWith('/') ? '' : '/'}${path}`;
  const patch = createTwoFilesPatch(oldName, newName, before ?? '', after, undefined, undefined, { context: opts.context ?? 3 });
  // drop the "Index:"/"=====" preamble some versions add; keep from the --- line on
  const start = patch.indexOf('--- ');
  return start > 0 ? patch.slice(start) : patch;
}

/** Counts of added and removed lines in a unified diff. */
export function diffStat(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('+')) added++;
    else if (line.startsWith('-')) removed++;
  }
  return { added, removed };
}
