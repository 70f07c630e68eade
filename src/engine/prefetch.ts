/**
 * Check-ahead for plan mode: the read-only `check` of every selected host step starts on every
 * target host at once, through the host's batched() view (src/transport/batch.ts), so the
 * commands of all checks travel in a few round trips per host instead of one (or more) per step.
 *
 * Only in plan mode, where nothing is applied, so a check made early observes exactly what it
 * would observe at its turn. The runner then takes each step's observation from here; a check
 * that failed early is simply run again at its turn (its error, if it fails again, is the one
 * reported). Messages a check reports are kept and replayed when its step runs. Hosts whose
 * RemoteHost has no batched() view (test doubles) are not prefetched.
 */
import type { Host } from '../inventory/schema.js';
import type { RemoteHost } from '../transport/types.js';
import type { PlaybookEntry } from './playbook.js';
import { isLocalStep, type ClusterContext, type Step, type StepContext } from './types.js';

/** A check made ahead of its turn: what it observed, or `failed` (then it runs again at its turn). */
export type Prefetched = { ok: true; observed: unknown; messages: string[] } | { ok: false };

export type PrefetchMap = ReadonlyMap<string, Promise<Prefetched>>;

export function prefetchKey(stepId: string, host: string): string {
  return `${stepId}\u0000${host}`;
}

/** Start every host step's check on every target host now; returns them by prefetchKey. */
export function prefetchChecks(
  entries: readonly PlaybookEntry[],
  targetsOf: ReadonlyMap<string, readonly Host[]>,
  cluster: ClusterContext,
  remotes: ReadonlyMap<string, RemoteHost>,
): PrefetchMap {
  const out = new Map<string, Promise<Prefetched>>();
  if (cluster.mode !== 'plan') return out;
  const views = new Map<string, RemoteHost>();
  const viewOf = (name: string): RemoteHost | undefined => {
    if (!views.has(name)) {
      const remote = remotes.get(name);
      const view = remote?.batched?.();
      if (view) views.set(name, view);
      else return undefined;
    }
    return views.get(name);
  };
  for (const entry of entries) {
    if (isLocalStep(entry.step)) continue;
    const step = entry.step as Step<unknown>;
    for (const host of targetsOf.get(entry.id) ?? []) {
      const remote = viewOf(host.name);
      const facts = cluster.facts.get(host.name);
      if (!remote || !facts) continue;
      const messages: string[] = [];
      const ctx: StepContext = { cluster, host, remote, facts, report: (m) => messages.push(m) };
      const p: Promise<Prefetched> = Promise.resolve()
        .then(() => step.check(ctx))
        .then(
          (observed) => ({ ok: true as const, observed, messages }),
          () => ({ ok: false as const }),
        );
      out.set(prefetchKey(entry.id, host.name), p);
    }
  }
  return out;
}
