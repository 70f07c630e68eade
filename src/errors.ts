/**
 * One error base for the whole tool (see ../shared/DESIGN.md "Errors").
 *
 * Every error a user can cause or meet carries a stable `code`, a one-line lower-case `message`,
 * a `hint` that says how to fix it, and where known the `host` and `step`. Each layer wraps once
 * and adds only new context. The single handler in src/cli/ maps them to output and exit codes;
 * stack traces are shown only for internal errors or with --debug.
 */

/** Exit codes, documented in README.md. */
export const EXIT = {
  ok: 0,
  /** a run failed (a host, a step, a command) */
  runFailed: 1,
  /** invalid input or usage: nothing was touched */
  invalidInput: 2,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface KubiErrorOptions {
  hint?: string;
  host?: string;
  step?: string;
  cause?: unknown;
  /** defaults to EXIT.runFailed */
  exitCode?: ExitCode;
}

export class KubiError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly host?: string;
  readonly step?: string;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, opts: KubiErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'KubiError';
    this.code = code;
    if (opts.hint !== undefined) this.hint = opts.hint;
    if (opts.host !== undefined) this.host = opts.host;
    if (opts.step !== undefined) this.step = opts.step;
    this.exitCode = opts.exitCode ?? EXIT.runFailed;
  }

  /** The one-line form: `host: step: message`. */
  get summary(): string {
    const parts: string[] = [];
    if (this.host) parts.push(this.host);
    if (this.step) parts.push(this.step);
    parts.push(this.message);
    return parts.join(': ');
  }

  /** Return a copy that also names the host and/or step (wrapping adds only new context). */
  withContext(ctx: { host?: string; step?: string }): KubiError {
    if ((ctx.host === undefined || this.host) && (ctx.step === undefined || this.step)) return this;
    const copy = Object.create(Object.getPrototypeOf(this)) as KubiError;
    Object.assign(copy, this);
    Object.defineProperty(copy, 'message', { value: this.message, enumerable: false });
    Object.defineProperty(copy, 'stack', { value: this.stack, enumerable: false });
    if (ctx.host && !this.host) (copy as { host?: string }).host = ctx.host;
    if (ctx.step && !this.step) (copy as { step?: string }).step = ctx.step;
    return copy;
  }
}

/** Bad input from the user (inventory, flags): exit code 2, nothing was touched. */
export class UsageError extends KubiError {
  constructor(message: string, hint?: string) {
    super('usage', message, { exitCode: EXIT.invalidInput, ...(hint ? { hint } : {}) });
    this.name = 'UsageError';
  }
}

/** A command not built yet: says so plainly and exits non-zero. */
export class NotImplementedError extends KubiError {
  constructor(what: string, hint?: string) {
    super('not-implemented', `${what} is not built yet`, {
      exitCode: EXIT.runFailed,
      hint: hint ?? 'see the open issues in the project tracker; README.md lists what works today',
    });
    this.name = 'NotImplementedError';
  }
}

export function isKubiError(e: unknown): e is KubiError {
  return e instanceof KubiError;
}

/** A short, safe string for any thrown value (never a stack). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
