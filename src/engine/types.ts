/**
 * The step contract (see ../shared/DESIGN.md "A step").
 *
 * A step observes (read-only `check`), then `plan` returns the changes as data (pure), then the
 * engine applies them with the generic executor (or the step's own `apply`), then re-checks: a
 * step that still plans changes after apply is a bug and fails loudly. A converged host plans
 * nothing. Steps never import ssh2, fs or listr2.
 *
 * Two kinds of step:
 *  - `Step` runs on remote hosts (one StepContext per target host);
 *  - `LocalStep` (`local: true`) runs once per run on the workstation, over the cluster's state
 *    directory (e.g. generating PKI). Its file/mkdir/delete changes use paths relative to the
 *    state directory.
 */
import type { Facts } from '../facts/types.js';
import type { Host, Inventory } from '../inventory/schema.js';
import type { RemoteHost } from '../transport/types.js';

/** Changes are data: `plan` shows them exactly, tests assert on them, the executor applies them. */
export type Change =
  | {
      kind: 'file';
      path: string;
      content: string | Buffer;
      mode: number;
      owner?: string;
      group?: string;
      /** content must never be shown or logged (keys, tokens) */
      secret?: boolean;
      /** current content when known (for diffs); null when the file does not exist */
      before?: string | null;
      /** `chmod`: content already right, only mode/owner/group differ */
      action: 'create' | 'update' | 'chmod';
    }
  | { kind: 'mkdir'; path: string; mode: number; owner?: string; group?: string }
  | { kind: 'delete'; path: string; recursive?: boolean }
  | { kind: 'command'; title: string; argv: string[]; secret?: boolean }
  | { kind: 'script'; title: string; script: string; secret?: boolean }
  | {
      kind: 'service';
      unit: string;
      action: 'daemon-reload' | 'enable' | 'disable' | 'start' | 'stop' | 'restart' | 'reload' | 'enable-now';
      /**
       * written (0644) only after the action succeeded: a fingerprint of the unit's inputs, so a
       * run interrupted between writing a config and restarting its service still restarts it
       * next time (see src/steps/lib/services.ts)
       */
      fingerprint?: { path: string; value: string };
    }
  | {
      /**
       * Anything the generic executor cannot do (an etcd member add, generating a key): the
       * step's own `apply` performs it. `detail` lines are shown in the plan and the runbook;
       * `shell` (when given) is the copy-pasteable equivalent for the runbook.
       */
      kind: 'action';
      title: string;
      detail?: string[];
      shell?: string;
      secret?: boolean;
    };

export type ChangeKind = Change['kind'];

/** Shared, per-run context (one per cluster run). */
export interface ClusterContext {
  inventory: Inventory;
  /** absolute path of the inventory file */
  inventoryPath: string;
  /** absolute state directory (0700): pki/, known_hosts, token, runs/ */
  stateDir: string;
  mode: 'plan' | 'apply';
  /** facts of every connected host, by host name */
  facts: ReadonlyMap<string, Facts>;
  /** cluster-wide services steps may use (PKI store, artifact resolver, token...), filled by the CLI wiring */
  services: ClusterServices;
  /** cancelled when the run stops (first failure, SIGINT) */
  signal: AbortSignal;
  /** inject clock and sleep (tests use fakes) */
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/** Filled in by later issues; steps read what they need and fail clearly when it is missing. */
export interface ClusterServices {
  [name: string]: unknown;
}

export interface StepContext {
  cluster: ClusterContext;
  host: Host;
  remote: RemoteHost;
  facts: Facts;
  /** progress text for the current host (shown by the progress renderer, written to the run log) */
  report(message: string): void;
}

export interface Step<Observed = unknown> {
  /** `component.verb`, e.g. `etcd.configure` */
  id: string;
  /** an imperative sentence: "Configure etcd" */
  title: string;
  /** never set on a host step (distinguishes it from a LocalStep) */
  local?: false;
  /** read-only: observe what the step cares about, in as few round trips as possible (ideally one) */
  check(ctx: StepContext): Promise<Observed>;
  /** pure: what would change, as data; [] means up to date */
  plan(observed: Observed, ctx: StepContext): Change[] | Promise<Change[]>;
  /** optional own apply when the generic executor is not enough; it must apply exactly `changes` */
  apply?(changes: Change[], ctx: StepContext): Promise<void>;
  /** optional wait after apply (e.g. until a service is healthy); runs only when something changed */
  settle?(ctx: StepContext): Promise<void>;
}

/** What a local step sees: the cluster, no host. */
export interface LocalStepContext {
  cluster: ClusterContext;
  report(message: string): void;
}

/**
 * A step that runs once on the workstation (playbook selector `hosts: local`). Its changes are
 * about the state directory: file/mkdir/delete paths are relative to `cluster.stateDir` and the
 * generic local executor (src/engine/apply-local.ts) writes them atomically; anything else is an
 * `action` its own `apply` performs.
 */
export interface LocalStep<Observed = unknown> {
  id: string;
  title: string;
  local: true;
  check(ctx: LocalStepContext): Promise<Observed>;
  plan(observed: Observed, ctx: LocalStepContext): Change[] | Promise<Change[]>;
  apply?(changes: Change[], ctx: LocalStepContext): Promise<void>;
}

/** Anything the registry holds. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = Step<any> | LocalStep<any>;

export function isLocalStep(step: AnyStep): step is LocalStep<unknown> {
  return step.local === true;
}
