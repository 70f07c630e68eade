/**
 * The runner: for each selected playbook step, its targets; for each target (bounded parallel or
 * serial in inventory order): check -> plan -> (plan mode: record) | (apply mode: apply -> settle
 * -> re-check + re-plan, which must be empty or the step is a bug: `step-not-converged`).
 * In plan mode every host step's check starts at once, batched per host (prefetch.ts): nothing is
 * applied, so what a check sees early is what it would see at its turn.
 *
 * The first failure stops the run: the run's AbortSignal fires, work in flight finishes its
 * current step cleanly, no new host or step starts. A host that had planned changes but had not
 * begun applying them when the run stopped is reported `skipped`. The same happens when the
 * caller's signal (SIGINT) fires. Progress is reported as typed events; the engine knows
 * nothing about how they are shown.
 */
import { KubiError, describeError, isKubiError } from '../errors.js';
import type { Host } from '../inventory/schema.js';
import type { RemoteHost } from '../transport/types.js';
import { applyChanges } from './apply.js';
import { applyLocalChanges } from './apply-local.js';
import { describeChange } from './describe.js';
import { LOCAL_TARGET, type EngineEvent, type EventListener, type HostResult, type HostStatus, type StepPlanEntry } from './events.js';
import { forEachLimit } from './limit.js';
import type { Playbook, PlaybookEntry } from './playbook.js';
import { prefetchChecks, prefetchKey, type Prefetched } from './prefetch.js';
import { selectSteps, type Selection } from './select.js';
import { resolveTargets } from './targets.js';
import { isLocalStep, type Change, type ClusterContext, type LocalStep, type LocalStepContext, type Step, type StepContext } from './types.js';

export interface RunOptions {
  playbook: Playbook;
  /** --only / --from / --until */
  selection?: Selection;
  /** mode (plan|apply) and the caller's cancel signal come from here */
  cluster: ClusterContext;
  /** a connected RemoteHost for every host the selected steps target */
  remotes: ReadonlyMap<string, RemoteHost>;
  onEvent?: EventListener | EventListener[];
  /** caps every step's concurrency (the CLI's --concurrency) */
  maxConcurrency?: number;
  /** plan mode: run every host step's check at once, batched per host (prefetch.ts); default true */
  prefetch?: boolean;
}

export interface StepResult {
  id: string;
  title: string;
  local: boolean;
  /** in target order */
  hosts: HostResult[];
  durationMs: number;
}

export interface RunResult {
  mode: 'plan' | 'apply';
  playbook: string;
  ok: boolean;
  /** steps that started, in order */
  steps: StepResult[];
  /** selected steps that never started because the run stopped */
  notRun: string[];
  /** the first failure: it stopped the run */
  failure?: { step: string; host: string; error: KubiError };
  /** the caller's signal stopped the run (SIGINT/SIGTERM) */
  interrupted: boolean;
  durationMs: number;
}

/** Wrap anything thrown by a step once, adding host and step. */
export function asStepError(e: unknown, step: string, host: string | undefined): KubiError {
  const ctx = host === undefined || host === LOCAL_TARGET ? { step } : { host, step };
  if (isKubiError(e)) return e.withContext(ctx);
  return new KubiError('step-failed', describeError(e).toLowerCase().split('\n')[0] ?? 'step failed', {
    ...ctx,
    cause: e,
    hint: 'this error was not expected by the step: see the run log for details',
  });
}

export function notConvergedError(stepId: string, host: string | undefined, remaining: readonly Change[]): KubiError {
  const list = remaining.map(describeChange);
  return new KubiError(
    'step-not-converged',
    `still has ${remaining.length} change${remaining.length === 1 ? '' : 's'} after apply: ${list.join('; ')}`,
    {
      step: stepId,
      ...(host && host !== LOCAL_TARGET ? { host } : {}),
      hint: 'this is a bug in the step (its plan and its apply disagree): please report it with the run log',
    },
  );
}

export async function runPlaybook(opts: RunOptions): Promise<RunResult> {
  const listeners = Array.isArray(opts.onEvent) ? opts.onEvent : opts.onEvent ? [opts.onEvent] : [];
  const emit = (e: EngineEvent): void => {
    for (const l of listeners) l(e);
  };
  const outer = opts.cluster.signal;
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer.reason);
  if (outer.aborted) controller.abort(outer.reason);
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  const cluster: ClusterContext = { ...opts.cluster, signal: controller.signal };
  const mode = cluster.mode;
  const now = (): number => cluster.now().getTime();
  const runStart = now();

  const selected = new Set(selectSteps(opts.playbook.steps.map((s) => s.id), opts.selection ?? {}));
  const entries = opts.playbook.steps.filter((s) => selected.has(s.id));
  const targetsOf = new Map<string, Host[]>();
  for (const e of entries) targetsOf.set(e.id, resolveTargets(e.selector, cluster.inventory, e.id));
  const planEntries: StepPlanEntry[] = entries.map((e) => ({
    id: e.id,
    title: e.step.title,
    hosts: e.selector.kind === 'local' ? [LOCAL_TARGET] : targetsOf.get(e.id)!.map((h) => h.name),
    strategy: e.strategy,
    concurrency: e.selector.kind === 'local' ? 1 : Math.max(1, Math.min(e.concurrency, opts.maxConcurrency ?? Number.POSITIVE_INFINITY)),
  }));

  const prefetched = opts.prefetch === false ? new Map<string, Promise<Prefetched>>() : prefetchChecks(entries, targetsOf, cluster, opts.remotes);

  const result: RunResult = { mode, playbook: opts.playbook.name, ok: true, steps: [], notRun: [], interrupted: false, durationMs: 0 };
  const fail = (step: string, host: string, error: KubiError): void => {
    if (!result.failure) result.failure = { step, host, error };
    if (!controller.signal.aborted) controller.abort(error);
  };

  emit({ type: 'run-start', mode, playbook: opts.playbook.name, steps: planEntries });
  try {
    for (const entry of entries) {
      if (controller.signal.aborted) {
        result.notRun.push(entry.id);
        continue;
      }
      const stepStart = now();
      const plan = planEntries.find((p) => p.id === entry.id)!;
      emit({ type: 'step-start', step: entry.id, title: entry.step.title, hosts: plan.hosts, strategy: entry.strategy });
      const hostResults: HostResult[] = new Array<HostResult>(plan.hosts.length);
      const record = (i: number, r: HostResult): void => {
        hostResults[i] = r;
        emit({ type: 'host-result', ...r });
      };

      if (isLocalStep(entry.step)) {
        record(0, await runLocal(entry.step, cluster, emit, now, fail));
      } else {
        const step = entry.step as Step<unknown>;
        const hosts = targetsOf.get(entry.id)!;
        await forEachLimit(
          hosts,
          plan.concurrency,
          async (host, i) => record(i, await runHost(step, entry, host, cluster, opts.remotes, emit, now, fail, prefetched.get(prefetchKey(entry.id, host.name)))),
          {
            shouldStart: () => !controller.signal.aborted,
            onNotStarted: (host, i) =>
              record(i, { step: entry.id, host: host.name, status: 'skipped', changes: [], durationMs: 0, reason: 'the run stopped before this host started' }),
          },
        );
      }
      const counts: Record<HostStatus, number> = { 'up-to-date': 0, changed: 0, skipped: 0, failed: 0 };
      for (const r of hostResults) counts[r.status]++;
      const durationMs = now() - stepStart;
      result.steps.push({ id: entry.id, title: entry.step.title, local: isLocalStep(entry.step), hosts: hostResults, durationMs });
      emit({ type: 'step-end', step: entry.id, durationMs, counts });
    }
  } finally {
    outer.removeEventListener('abort', onOuterAbort);
  }
  result.interrupted = outer.aborted;
  result.ok = !result.failure && !result.interrupted;
  result.durationMs = now() - runStart;
  emit({ type: 'run-end', ok: result.ok, durationMs: result.durationMs });
  return result;
}

type Emit = (e: EngineEvent) => void;
type Fail = (step: string, host: string, error: KubiError) => void;

async function runHost(
  step: Step<unknown>,
  entry: PlaybookEntry,
  host: Host,
  cluster: ClusterContext,
  remotes: ReadonlyMap<string, RemoteHost>,
  emit: Emit,
  now: () => number,
  fail: Fail,
  prefetched?: Promise<Prefetched>,
): Promise<HostResult> {
  const start = now();
  const base = { step: entry.id, host: host.name };
  emit({ type: 'host-start', ...base });
  let changes: Change[] = [];
  try {
    const remote = remotes.get(host.name);
    if (!remote) throw new KubiError('internal', `no connection to ${host.name}`, { hint: 'the CLI connects to every targeted host before the run' });
    const facts = cluster.facts.get(host.name);
    if (!facts) throw new KubiError('internal', `no facts for ${host.name}`, { hint: 'the CLI gathers facts of every targeted host before the run' });
    const ctx: StepContext = { cluster, host, remote, facts, report: (message) => emit({ type: 'host-message', ...base, message }) };

    const early = prefetched ? await prefetched : undefined;
    if (early?.ok) for (const m of early.messages) ctx.report(m);
    changes = await step.plan(early?.ok ? early.observed : await step.check(ctx), ctx);
    if (changes.length === 0) return { ...base, status: 'up-to-date', changes, durationMs: now() - start };
    if (cluster.mode === 'plan') return { ...base, status: 'changed', changes, durationMs: now() - start };
    if (cluster.signal.aborted) {
      return { ...base, status: 'skipped', changes, durationMs: now() - start, reason: 'the run stopped before these changes were applied' };
    }
    if (step.apply) await step.apply(changes, ctx);
    else await applyChanges(remote, changes);
    if (step.settle) await step.settle(ctx);
    const remaining = await step.plan(await step.check(ctx), ctx);
    if (remaining.length > 0) throw notConvergedError(entry.id, host.name, remaining);
    return { ...base, status: 'changed', changes, durationMs: now() - start };
  } catch (e) {
    const error = asStepError(e, entry.id, host.name);
    fail(entry.id, host.name, error);
    return { ...base, status: 'failed', changes, durationMs: now() - start, error };
  }
}

async function runLocal(step: LocalStep<unknown>, cluster: ClusterContext, emit: Emit, now: () => number, fail: Fail): Promise<HostResult> {
  const start = now();
  const base = { step: step.id, host: LOCAL_TARGET };
  emit({ type: 'host-start', ...base });
  let changes: Change[] = [];
  try {
    const ctx: LocalStepContext = { cluster, report: (message) => emit({ type: 'host-message', ...base, message }) };
    changes = await step.plan(await step.check(ctx), ctx);
    if (changes.length === 0) return { ...base, status: 'up-to-date', changes, durationMs: now() - start };
    if (cluster.mode === 'plan') return { ...base, status: 'changed', changes, durationMs: now() - start };
    if (step.apply) await step.apply(changes, ctx);
    else await applyLocalChanges(cluster.stateDir, changes);
    const remaining = await step.plan(await step.check(ctx), ctx);
    if (remaining.length > 0) throw notConvergedError(step.id, undefined, remaining);
    return { ...base, status: 'changed', changes, durationMs: now() - start };
  } catch (e) {
    const error = asStepError(e, step.id, undefined);
    fail(step.id, LOCAL_TARGET, error);
    return { ...base, status: 'failed', changes, durationMs: now() - start, error };
  }
}
