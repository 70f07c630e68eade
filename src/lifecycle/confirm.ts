/**
 * Asking before destructive work: `--yes` answers for automation; on a terminal the user types
 * "yes"; anywhere else (a pipe, CI) the command refuses before touching anything (exit 2).
 */
import { createInterface } from 'node:readline/promises';
import { KubiError, UsageError } from '../errors.js';

export interface ConfirmOptions {
  /** --yes was given */
  yes?: boolean;
  /** default process.stdin / process.stderr */
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream;
}

/** Resolve when confirmed; throw otherwise (nothing has been changed at that point). */
export async function confirm(what: string, lines: readonly string[], opts: ConfirmOptions = {}): Promise<void> {
  if (opts.yes) return;
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  if (!input.isTTY) {
    throw new UsageError(`${what} needs a confirmation: nothing was changed`, 'run it on a terminal to answer the question, or pass --yes');
  }
  for (const l of lines) output.write(`${l}\n`);
  const rl = createInterface({ input, output });
  try {
    const answer = (await rl.question(`${what}? type yes to go on: `)).trim().toLowerCase();
    if (answer !== 'yes' && answer !== 'y') {
      throw new KubiError('cancelled', `${what}: cancelled, nothing was changed`, { hint: 'answer yes (or pass --yes) to go on' });
    }
  } finally {
    rl.close();
  }
}
