/**
 * Typed events the runner emits while it works. The engine does not know listr2 exists: the CLI's
 * progress adapter (src/cli/progress.ts) and the run log (src/engine/runlog.ts) subscribe to these.
 */
import type { KubiError } from '../errors.js';
import type { Change } from './types.js';

/** The target name a local (workstation) step reports under; never a valid inventory host name. */
export const LOCAL_TARGET = '(local)';

export type HostStatus = 'up-to-date' | 'changed' | 'skipped' | 'failed';

export interface HostResult {
  step: string;
  host: string;
  status: HostStatus;
  /** planned (plan mode) or applied (apply mode) changes; [] when up to date */
  changes: Change[];
  durationMs: number;
  /** why a host was skipped ("the run stopped before this host started") */
  reason?: string;
  error?: KubiError;
}

export interface StepPlanEntry {
  id: string;
  title: string;
  /** target names in run order (LOCAL_TARGET for a local step) */
  hosts: string[];
  strategy: 'parallel' | 'serial';
  /** how many hosts run at once (1 for serial) */
  concurrency: number;
}

export type EngineEvent =
  | { type: 'run-start'; mode: 'plan' | 'apply'; playbook: string; steps: StepPlanEntry[] }
  | { type: 'step-start'; step: string; title: string; hosts: string[]; strategy: 'parallel' | 'serial' }
  | { type: 'host-start'; step: string; host: string }
  | { type: 'host-message'; step: string; host: string; message: string }
  | ({ type: 'host-result' } & HostResult)
  | { type: 'step-end'; step: string; durationMs: number; counts: Record<HostStatus, number> }
  | { type: 'run-end'; ok: boolean; durationMs: number };

export type EventListener = (event: EngineEvent) => void;
