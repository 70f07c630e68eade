/**
 * The listr2 adapter: turns engine events (src/engine/events.ts) into tasks — one task per step,
 * one subtask per host — showing up to date / changed / skipped / failed with durations.
 * Renderers: listr2's default one on a TTY, a plain line renderer otherwise (`simple`, or
 * `verbose` for every state change), nothing with --quiet. The engine never sees listr2.
 */
import { Listr, ListrLogger, ProcessOutput, type ListrTask, type ListrTaskWrapper } from 'listr2';
import type { EngineEvent, HostResult, StepPlanEntry } from '../engine/events.js';
import { LOCAL_TARGET } from '../engine/events.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'verbose' | 'quiet';

export interface ProgressOptions {
  mode: ProgressMode;
  /** where the renderer writes (default process.stderr, so stdout stays clean for --output json) */
  stream?: NodeJS.WriteStream;
}

export interface Progress {
  onEvent(e: EngineEvent): void;
  /** resolves when the renderer has drawn its last frame */
  done(): Promise<void>;
}

class Deferred<T> {
  resolve!: (v: T) => void;
  readonly promise = new Promise<T>((r) => (this.resolve = r));
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function hostLabel(r: HostResult, mode: 'plan' | 'apply'): string {
  const n = r.changes.length;
  const changes = `${n} change${n === 1 ? '' : 's'}`;
  switch (r.status) {
    case 'up-to-date':
      return `up to date (${formatMs(r.durationMs)})`;
    case 'changed':
      return `${mode === 'plan' ? 'would change' : 'changed'}: ${changes} (${formatMs(r.durationMs)})`;
    case 'skipped':
      return `skipped: ${r.reason ?? 'not run'}`;
    case 'failed':
      return `failed: ${r.error?.message ?? 'unknown error'} (${formatMs(r.durationMs)})`;
  }
}

function resolveMode(mode: ProgressMode, stream: NodeJS.WriteStream): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY && !process.env.CI ? 'tty' : 'plain';
}

/** A silent Progress (for --quiet and tests). */
const silent: Progress = { onEvent: () => undefined, done: async () => undefined };

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const mode = resolveMode(opts.mode, stream);
  if (mode === 'quiet') return silent;

  const stepStarted = new Map<string, Deferred<boolean>>();
  const hostStarted = new Map<string, Deferred<void>>();
  const hostDone = new Map<string, Deferred<HostResult | null>>();
  const hostTask = new Map<string, ListrTaskWrapper<unknown, never, never>>();
  const key = (step: string, host: string) => `${step}\0${host}`;
  let runMode: 'plan' | 'apply' = 'apply';
  let running: Promise<unknown> = Promise.resolve();

  const hostTaskOf = (step: StepPlanEntry, host: string): ListrTask => ({
    title: host === LOCAL_TARGET ? 'workstation' : host,
    task: async (_ctx, task) => {
      const name = host === LOCAL_TARGET ? 'workstation' : host;
      await hostStarted.get(key(step.id, host))!.promise;
      task.title = name;
      hostTask.set(key(step.id, host), task as never);
      const r = await hostDone.get(key(step.id, host))!.promise;
      if (r === null) {
        task.skip(`${name}: not started`);
        return;
      }
      if (r.status === 'skipped') {
        task.skip(`${name}: ${hostLabel(r, runMode)}`);
        return;
      }
      if (r.status === 'failed') {
        task.title = `${name} (${formatMs(r.durationMs)})`;
        throw new Error(`${name}: ${r.error?.message ?? 'failed'}`);
      }
      task.title = `${name}: ${hostLabel(r, runMode)}`;
    },
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const build = (steps: StepPlanEntry[]): Listr<any, any, any> => {
    const tasks: ListrTask[] = steps.map((s) => ({
      title: `${s.id}: ${s.title}`,
      task: async (_ctx, task) => {
        const started = await stepStarted.get(s.id)!.promise;
        if (!started) {
          task.skip(`${s.id}: not run`);
          return;
        }
        return task.newListr(
          s.hosts.map((h) => hostTaskOf(s, h)),
          // the same width and order as the engine, so hosts show as they really start
          { concurrent: s.concurrency, exitOnError: false },
        );
      },
    }));
    const common = { exitOnError: false, registerSignalListeners: false, concurrent: false } as const;
    if (mode === 'tty') {
      return new Listr(tasks, { ...common, renderer: 'default', rendererOptions: { collapseSubtasks: false, showErrorMessage: true, logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }) } });
    }
    const logger = new ListrLogger({ processOutput: new ProcessOutput(stream, stream), useIcons: false });
    return new Listr(tasks, { ...common, renderer: mode === 'verbose' ? 'verbose' : 'simple', rendererOptions: { logger } });
  };

  return {
    onEvent(e: EngineEvent): void {
      switch (e.type) {
        case 'run-start':
          runMode = e.mode;
          for (const s of e.steps) {
            stepStarted.set(s.id, new Deferred());
            for (const h of s.hosts) {
              hostStarted.set(key(s.id, h), new Deferred());
              hostDone.set(key(s.id, h), new Deferred());
            }
          }
          running = build(e.steps).run().catch(() => undefined);
          break;
        case 'step-start':
          stepStarted.get(e.step)?.resolve(true);
          break;
        case 'host-start':
          hostStarted.get(key(e.step, e.host))?.resolve();
          break;
        case 'host-message': {
          const t = hostTask.get(key(e.step, e.host));
          if (t) t.output = e.message;
          break;
        }
        case 'host-result': {
          hostStarted.get(key(e.step, e.host))?.resolve();
          const { type: _t, ...r } = e;
          hostDone.get(key(e.step, e.host))?.resolve(r);
          break;
        }
        case 'run-end':
          // release everything that never started (the run stopped early)
          for (const d of stepStarted.values()) d.resolve(false);
          for (const d of hostStarted.values()) d.resolve();
          for (const d of hostDone.values()) d.resolve(null);
          break;
      }
    },
    done: () => running.then(() => undefined),
  };
}
