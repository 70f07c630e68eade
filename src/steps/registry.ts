/**
 * The step registry: every step the tool knows, by id. Step modules (src/steps/<component>/)
 * export Step objects; src/steps/index.ts imports them all and registers them here. Playbooks
 * are checked against a registry at load time, so an unknown step id never reaches a run.
 */
import { KubiError } from '../errors.js';
import type { AnyStep } from '../engine/types.js';
import { didYouMean } from '../engine/suggest.js';

/** `component.verb`: lower-case words joined by single dashes, e.g. `etcd.configure`, `host.kernel-modules`. */
export const STEP_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export function isValidStepId(id: string): boolean {
  return STEP_ID.test(id);
}

/** The component of a step id: `etcd` for `etcd.configure`. */
export function componentOf(id: string): string {
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}

export class StepRegistry {
  private readonly steps = new Map<string, AnyStep>();

  /** Register steps; the same object twice is a no-op, two different steps with one id is a bug. */
  register(...steps: AnyStep[]): void {
    for (const step of steps) {
      if (!step || typeof step.id !== 'string' || !isValidStepId(step.id)) {
        throw new KubiError('step-id-invalid', `invalid step id ${JSON.stringify(step?.id)}`, {
          hint: 'step ids are component.verb in lower case, e.g. etcd.configure',
        });
      }
      if (typeof step.title !== 'string' || step.title.trim() === '') {
        throw new KubiError('step-invalid', `step ${step.id} has no title`, { hint: 'give it an imperative sentence, e.g. "Configure etcd"' });
      }
      if (typeof step.check !== 'function' || typeof step.plan !== 'function') {
        throw new KubiError('step-invalid', `step ${step.id} needs check() and plan()`);
      }
      const existing = this.steps.get(step.id);
      if (existing && existing !== step) {
        throw new KubiError('step-duplicate', `two different steps are registered as ${step.id}`, {
          hint: 'step ids must be unique: rename one of them',
        });
      }
      this.steps.set(step.id, step);
    }
  }

  has(id: string): boolean {
    return this.steps.has(id);
  }

  /** The step, or a KubiError naming the id with a did-you-mean. */
  get(id: string): AnyStep {
    const step = this.steps.get(id);
    if (!step) {
      throw new KubiError('step-unknown', `unknown step ${id}${didYouMean(id, this.steps.keys())}`, {
        hint: `known steps: ${this.ids().join(', ') || '(none registered)'}`,
      });
    }
    return step;
  }

  /** Registered ids, sorted. */
  ids(): string[] {
    return [...this.steps.keys()].sort();
  }
}

/** The process-wide registry filled by src/steps/index.ts. */
export const defaultRegistry = new StepRegistry();

export function registerSteps(...steps: AnyStep[]): void {
  defaultRegistry.register(...steps);
}

export function getStep(id: string): AnyStep {
  return defaultRegistry.get(id);
}

export function allStepIds(): string[] {
  return defaultRegistry.ids();
}
