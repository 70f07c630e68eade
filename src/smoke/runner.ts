/**
 * Runs smoke layers in order and collects one row per check.
 *
 * - A layer whose prerequisite layer failed completely (it had failures and nothing passed) becomes
 *   ONE row "not run: <reason>"; so does a layer whose plan says it does not apply (endpoint mode
 *   none, k3s not running) or that was not selected.
 * - Within a layer, checks run stage by stage; in a stage, checks of different hosts run in parallel
 *   and checks of one host (or the cluster-wide ones) one after another, in declared order.
 * - A layer's cleanup always runs; a cleanup that throws adds a failed row.
 * The report lists rows in declared order, whatever order they finished in.
 */
import { describeError } from '../errors.js';
import {
  type Check,
  type CheckResult,
  type CheckStatus,
  type Layer,
  type LayerId,
  outcomeFromError,
} from './check.js';
import type { SmokeContext } from './context.js';

export interface LayerReport {
  id: LayerId;
  title: string;
  status: CheckStatus;
  durationMs: number;
  results: CheckResult[];
}

export interface SmokeReport {
  cluster: string;
  startedAt: string;
  durationMs: number;
  layers: LayerReport[];
  summary: Record<CheckStatus, number>;
  /** false when any check failed (the command exits non-zero) */
  ok: boolean;
}

export interface RunHooks {
  /** a row finished (for live progress) */
  onResult?(result: CheckResult): void;
  onLayerStart?(layer: Layer): void;
}

export async function runSmoke(layers: readonly Layer[], ctx: SmokeContext, hooks: RunHooks = {}): Promise<SmokeReport> {
  const start = ctx.now();
  const reports: LayerReport[] = [];
  for (const layer of layers) {
    hooks.onLayerStart?.(layer);
    const layerStart = ctx.now();
    const results = await runLayer(layer, reports, ctx, hooks);
    reports.push({ id: layer.id, title: layer.title, status: layerStatus(results), durationMs: ctx.now() - layerStart, results });
  }
  const summary: Record<CheckStatus, number> = { passed: 0, failed: 0, warning: 0, 'not-run': 0 };
  for (const l of reports) for (const r of l.results) summary[r.status]++;
  return {
    cluster: ctx.inventory.cluster.name,
    startedAt: new Date(start).toISOString(),
    durationMs: ctx.now() - start,
    layers: reports,
    summary,
    ok: summary.failed === 0,
  };
}

async function runLayer(layer: Layer, done: readonly LayerReport[], ctx: SmokeContext, hooks: RunHooks): Promise<CheckResult[]> {
  const skip = (reason: string): CheckResult[] => {
    const row: CheckResult = { id: `${layer.id}.layer`, layer: layer.id, title: layer.title, status: 'not-run', message: reason, durationMs: 0 };
    hooks.onResult?.(row);
    return [row];
  };
  if (ctx.options.layers && !ctx.options.layers.includes(layer.id)) return skip('not selected');
  if (ctx.signal.aborted) return skip('interrupted');
  for (const req of layer.requires) {
    const r = done.find((l) => l.id === req);
    if (r && failedCompletely(r)) return skip(`the ${req} layer failed`);
  }

  let planned: Check[] | { notRun: string };
  try {
    planned = await layer.plan(ctx);
  } catch (e) {
    const row: CheckResult = {
      id: `${layer.id}.layer`,
      layer: layer.id,
      title: layer.title,
      durationMs: 0,
      ...outcomeFromError(e, undefined, ctx.redact),
    };
    hooks.onResult?.(row);
    return [row];
  }
  if (!Array.isArray(planned)) return skip(planned.notRun);

  const results = new Map<Check, CheckResult>();
  try {
    const stages = [...new Set(planned.map((c) => c.stage ?? 0))].sort((a, b) => a - b);
    for (const stage of stages) {
      const groups = new Map<string, Check[]>();
      for (const c of planned.filter((c) => (c.stage ?? 0) === stage)) {
        const key = c.host ?? '\0cluster';
        groups.set(key, [...(groups.get(key) ?? []), c]);
      }
      await Promise.all(
        [...groups.values()].map(async (group) => {
          for (const check of group) {
            const r = await runCheck(check, ctx);
            results.set(check, r);
            hooks.onResult?.(r);
          }
        }),
      );
    }
  } finally {
    if (layer.cleanup) {
      const t0 = ctx.now();
      try {
        await layer.cleanup(ctx);
      } catch (e) {
        const row: CheckResult = {
          id: `${layer.id}.cleanup`,
          layer: layer.id,
          title: 'remove what the checks created',
          status: 'failed',
          message: ctx.redact(`cleanup failed: ${describeError(e)}`),
          durationMs: ctx.now() - t0,
        };
        const sentinel = { id: row.id, layer: layer.id, title: row.title, run: async () => row } satisfies Check;
        planned.push(sentinel);
        results.set(sentinel, row);
        hooks.onResult?.(row);
      }
    }
  }
  return planned.map((c) => results.get(c)!).filter((r) => r !== undefined);
}

async function runCheck(check: Check, ctx: SmokeContext): Promise<CheckResult> {
  const base = { id: check.id, layer: check.layer, title: check.title, ...(check.host ? { host: check.host } : {}) };
  if (ctx.signal.aborted) return { ...base, status: 'not-run', message: 'interrupted', durationMs: 0 };
  const t0 = ctx.now();
  let outcome;
  try {
    outcome = await check.run(ctx);
  } catch (e) {
    outcome = outcomeFromError(e, check.host, ctx.redact);
  }
  return { ...base, ...outcome, durationMs: Math.max(0, ctx.now() - t0) };
}

export function layerStatus(results: readonly CheckResult[]): CheckStatus {
  if (results.some((r) => r.status === 'failed')) return 'failed';
  if (results.some((r) => r.status === 'warning')) return 'warning';
  if (results.length === 0 || results.every((r) => r.status === 'not-run')) return 'not-run';
  return 'passed';
}

/** A layer failed completely when it has failures and nothing in it passed (or only warned). */
export function failedCompletely(layer: LayerReport): boolean {
  return layer.results.some((r) => r.status === 'failed') && !layer.results.some((r) => r.status === 'passed' || r.status === 'warning');
}
