/**
 * The smoke-check contract: a check is `{id, layer, title, host?, run(ctx)}` and its run returns an
 * outcome `{status, message, evidence?}`. Layers group checks (hosts -> etcd -> containerd ->
 * endpoint -> kubernetes -> chaos) and say what they need; the runner (runner.ts) runs them.
 *
 * Also here: `retryUntil` / `retryCheck` for checks on a cluster that converges over time (clock and
 * sleep injected), and `NotRun`, which a check throws when it cannot run (its host is unreachable,
 * a prerequisite is missing): the row then says "not run: <reason>" and never counts as passed.
 */
import { describeError, isKubiError } from '../errors.js';
import type { SmokeContext } from './context.js';
import { type Evidence, evidenceFromError } from './evidence.js';

export type { Evidence } from './evidence.js';

export const LAYER_IDS = ['hosts', 'etcd', 'containerd', 'endpoint', 'kubernetes', 'chaos'] as const;
export type LayerId = (typeof LAYER_IDS)[number];

export type CheckStatus = 'passed' | 'failed' | 'warning' | 'not-run';

/** What one run of a check found. */
export interface CheckOutcome {
  status: CheckStatus;
  /** one line, lower-case, naming the host/member when there is one */
  message: string;
  /** on failure (and warnings): the commands, hosts and outputs that show why */
  evidence?: Evidence[];
}

export interface Check {
  /** `layer.what`, e.g. `etcd.health`; unique together with `host` */
  id: string;
  layer: LayerId;
  /** what is verified, as a short statement: "every member healthy" */
  title: string;
  /** the host this row is about; absent for cluster-wide checks */
  host?: string;
  /**
   * Checks of a layer run stage by stage (default 0); within a stage, checks of different hosts run in
   * parallel, checks of the same host (or cluster-wide checks) one after another in declared order.
   */
  stage?: number;
  run(ctx: SmokeContext): Promise<CheckOutcome>;
}

/** One row of the report. */
export interface CheckResult extends CheckOutcome {
  id: string;
  layer: LayerId;
  title: string;
  host?: string;
  durationMs: number;
}

/** A layer: a group of checks with prerequisites. `plan` returns the checks, or why the layer does not apply. */
export interface Layer {
  id: LayerId;
  title: string;
  /** layers that must not have failed completely for this one to run */
  requires: LayerId[];
  plan(ctx: SmokeContext): Promise<Check[] | { notRun: string }>;
  /** always runs after the layer's checks (even when they failed): remove what the checks created */
  cleanup?(ctx: SmokeContext): Promise<void>;
}

/** Thrown by a check that cannot run; the row becomes "not run: <reason>". */
export class NotRun extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NotRun';
  }
}

export const passed = (message: string, evidence?: Evidence[]): CheckOutcome => withEvidence({ status: 'passed', message }, evidence);
export const failed = (message: string, evidence?: Evidence[]): CheckOutcome => withEvidence({ status: 'failed', message }, evidence);
export const warning = (message: string, evidence?: Evidence[]): CheckOutcome => withEvidence({ status: 'warning', message }, evidence);
export const notRun = (reason: string): CheckOutcome => ({ status: 'not-run', message: reason });

function withEvidence(o: CheckOutcome, evidence?: Evidence[]): CheckOutcome {
  if (evidence && evidence.length > 0) o.evidence = evidence;
  return o;
}

/** Turn whatever a check threw into an outcome (NotRun -> not run; anything else -> failed with evidence). */
export function outcomeFromError(e: unknown, host: string | undefined, redact: (s: string) => string): CheckOutcome {
  if (e instanceof NotRun) return notRun(e.reason);
  const message = isKubiError(e) ? e.summary : describeError(e);
  const ev = evidenceFromError(e, host, redact);
  return failed(redact(message.charAt(0).toLowerCase() + message.slice(1)), ev ? [ev] : undefined);
}

// ------------------------------------------------------------------------------------------------
// retrying

export interface RetryOptions {
  /** give up after this long (measured with `now`) */
  timeoutMs: number;
  /** pause between attempts */
  intervalMs: number;
  /** what is waited for, for the timeout message: "etcd members to be healthy" */
  what: string;
  host?: string;
  now(): number;
  sleep(ms: number): Promise<void>;
  signal?: AbortSignal;
}

/** One attempt: done with a value, or not yet with the reason (and evidence) to report on timeout. */
export type Attempt<T> = { done: true; value: T } | { done: false; reason: string; evidence?: Evidence[] };

export class RetryTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly host: string | undefined,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly lastReason: string,
    readonly evidence: Evidence[],
  ) {
    super(`timed out after ${formatDuration(timeoutMs)} waiting for ${what}${host ? ` on ${host}` : ''} (${attempts} attempts): ${lastReason}`);
    this.name = 'RetryTimeoutError';
  }
}

/**
 * Call `fn` until it reports done or `timeoutMs` has passed (at least one attempt always runs; the
 * last attempt starts before the deadline). A thrown error counts as a failed attempt. On timeout
 * throws RetryTimeoutError with the last reason and evidence.
 */
export async function retryUntil<T>(fn: (attempt: number) => Promise<Attempt<T>>, opts: RetryOptions): Promise<T> {
  const start = opts.now();
  let attempt = 0;
  let last: { reason: string; evidence: Evidence[] } = { reason: 'no attempt ran', evidence: [] };
  for (;;) {
    attempt++;
    let result: Attempt<T>;
    try {
      result = await fn(attempt);
    } catch (e) {
      if (e instanceof NotRun) throw e;
      const ev = evidenceFromError(e, opts.host, (s) => s);
      result = { done: false, reason: isKubiError(e) ? e.message : describeError(e), ...(ev ? { evidence: [ev] } : {}) };
    }
    if (result.done) return result.value;
    last = { reason: result.reason, evidence: result.evidence ?? [] };
    const elapsed = opts.now() - start;
    if (elapsed + opts.intervalMs >= opts.timeoutMs || opts.signal?.aborted) {
      throw new RetryTimeoutError(opts.what, opts.host, opts.timeoutMs, attempt, last.reason, last.evidence);
    }
    await opts.sleep(opts.intervalMs);
  }
}

/**
 * Retry a check's attempt while it fails (passed, warning and not-run are final). On timeout the
 * last failed outcome is returned with a note saying how long it kept failing.
 */
export async function retryCheck(
  ctx: Pick<SmokeContext, 'now' | 'sleep' | 'options' | 'signal' | 'redact'>,
  what: { what: string; host?: string; timeoutMs?: number; intervalMs?: number },
  attempt: () => Promise<CheckOutcome>,
): Promise<CheckOutcome> {
  let lastFailure: CheckOutcome | undefined;
  const timeoutMs = what.timeoutMs ?? ctx.options.timeoutMs;
  try {
    return await retryUntil<CheckOutcome>(
      async () => {
        let o: CheckOutcome;
        try {
          o = await attempt();
        } catch (e) {
          o = outcomeFromError(e, what.host, ctx.redact);
          if (o.status === 'not-run') return { done: true, value: o };
        }
        if (o.status !== 'failed') return { done: true, value: o };
        lastFailure = o;
        return { done: false, reason: o.message, ...(o.evidence ? { evidence: o.evidence } : {}) };
      },
      {
        timeoutMs,
        intervalMs: what.intervalMs ?? ctx.options.intervalMs,
        what: what.what,
        ...(what.host ? { host: what.host } : {}),
        now: ctx.now,
        sleep: ctx.sleep,
        signal: ctx.signal,
      },
    );
  } catch (e) {
    if (e instanceof NotRun) return notRun(e.reason);
    if (e instanceof RetryTimeoutError && lastFailure) {
      const note = e.attempts > 1 ? ` (still failing after ${formatDuration(timeoutMs)}, ${e.attempts} attempts)` : '';
      return { ...lastFailure, message: lastFailure.message + note };
    }
    return outcomeFromError(e, what.host, ctx.redact);
  }
}

/** "850 ms", "12.3 s", "2 min 5 s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) {
    const s = ms / 1000;
    return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  }
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}
