/**
 * Step selection for walking the hard way one step at a time (pure):
 *   --only a,b     just these steps (ids or component prefixes like `etcd`)
 *   --from X       from the first step matching X to the end
 *   --until X      from the start up to and including the LAST step matching X
 * --from and --until combine; --only stands alone.
 */
import { UsageError } from '../errors.js';
import { componentOf } from '../steps/registry.js';
import { didYouMean } from './suggest.js';

export interface Selection {
  only?: readonly string[];
  from?: string;
  until?: string;
}

/** Indices (into `ids`) of the steps a reference names: an exact id, or every step of a component. */
function matching(ids: readonly string[], ref: string, flag: string): number[] {
  const out: number[] = [];
  ids.forEach((id, i) => {
    if (ref.includes('.') ? id === ref : componentOf(id) === ref) out.push(i);
  });
  if (out.length === 0) {
    const known = [...ids, ...new Set(ids.map(componentOf))];
    throw new UsageError(
      `${flag} ${ref}: no such step in this playbook${didYouMean(ref, known)}`,
      `steps: ${ids.join(', ') || '(none)'}`,
    );
  }
  return out;
}

/** The selected step ids, in playbook order. */
export function selectSteps(ids: readonly string[], sel: Selection = {}): string[] {
  const only = sel.only?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (only && only.length > 0) {
    if (sel.from !== undefined || sel.until !== undefined) {
      throw new UsageError('--only cannot be combined with --from or --until', 'use --only for a list, or --from/--until for a range');
    }
    const picked = new Set(only.flatMap((ref) => matching(ids, ref, '--only')));
    return ids.filter((_, i) => picked.has(i));
  }
  const start = sel.from !== undefined ? Math.min(...matching(ids, sel.from, '--from')) : 0;
  const end = sel.until !== undefined ? Math.max(...matching(ids, sel.until, '--until')) : ids.length - 1;
  if (start > end) {
    throw new UsageError(`--from ${sel.from} comes after --until ${sel.until} in the playbook`, `steps in order: ${ids.join(', ')}`);
  }
  return ids.slice(start, end + 1);
}
