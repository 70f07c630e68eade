/**
 * The one error handler of the CLI: maps anything thrown by a command to output on stderr and an
 * exit code (see EXIT in src/errors.ts). Inventory problems are listed one per line as
 * `file:line:col: path: message` with an indented hint; a KubiError prints its one-line summary
 * and hint; anything else is an internal error (a bug). Stack traces only with --debug.
 * Every line passes the redactor first.
 */
import { CommanderError } from 'commander';
import { EXIT, describeError, isKubiError, type ExitCode } from '../errors.js';
import { formatIssueLine, isInventoryError } from '../inventory/errors.js';
import { redactor } from '../redact.js';
import type { Output } from './output.js';

export interface ErrorReportOptions {
  debug: boolean;
}

/** Print `err` for a user and return the exit code the process should end with. */
export function reportError(err: unknown, output: Output, opts: ErrorReportOptions): ExitCode {
  const c = output.errColor;
  const say = (text: string) => output.errLine(redactor.redact(text));

  if (err instanceof CommanderError) {
    // commander has printed its message (and help) already; only map the code
    return err.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
  }

  if (isInventoryError(err)) {
    // a problem with the file as a whole (missing, too large) is the error itself
    const fileLevel = err.issues.every((i) => i.line === 0);
    for (const issue of err.issues) {
      say(fileLevel ? `${c.red('error:')} ${formatIssueLine(issue)}` : c.bold(formatIssueLine(issue)));
      say(`  ${c.dim('hint:')} ${issue.hint}`);
    }
    if (err.total > err.issues.length) say(`… and ${err.total - err.issues.length} more problems`);
    if (!fileLevel) say(`${c.red('error:')} ${err.message}`);
    if (opts.debug) printStack(err, say);
    return err.exitCode;
  }

  if (isKubiError(err)) {
    say(`${c.red('error:')} ${err.summary}`);
    if (err.hint) say(`  ${c.dim('hint:')} ${err.hint}`);
    if (opts.debug) printStack(err, say);
    return err.exitCode;
  }

  say(`${c.red('internal error:')} ${describeError(err)}`);
  say(`  ${c.dim('hint:')} this is a bug in kubi-provision; run again with --debug for the stack trace and report it`);
  if (opts.debug) printStack(err, say);
  return EXIT.runFailed;
}

function printStack(err: unknown, say: (text: string) => void): void {
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    if (cur instanceof Error) {
      say(depth === 0 ? (cur.stack ?? String(cur)) : `caused by: ${cur.stack ?? String(cur)}`);
      cur = cur.cause;
    } else {
      say(`caused by: ${String(cur)}`);
      break;
    }
  }
}
