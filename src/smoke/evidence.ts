/**
 * Evidence of a smoke check: which command ran on which host and the last lines of what it printed
 * (stdout and stderr, redacted). Built from an ExecResult or from a thrown error.
 */
import { isKubiError } from '../errors.js';
import { RemoteCommandError } from '../transport/errors.js';
import type { ExecResult } from '../transport/types.js';

export interface Evidence {
  /** host the command ran on ("workstation" for local probes) */
  host: string;
  /** the command as a user could paste it (redacted) */
  command: string;
  exitCode?: number;
  /** last lines of the output (stdout, then stderr), redacted */
  output: string;
}

/** How many output lines evidence keeps. */
export const EVIDENCE_LINES = 15;

export function tailLines(text: string, n = EVIDENCE_LINES): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return '';
  return lines.slice(-n).join('\n');
}

/** Evidence from a finished command. `label` replaces the (long) command of scripts, e.g. "ctr run ... (script)". */
export function evidenceFrom(
  host: string,
  result: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>,
  redact: (s: string) => string,
  opts: { label?: string; lines?: number; exitCode?: number | null } = {},
): Evidence {
  // marker lines (`@@name=value`) are for the parsers; what they carry is in the message or the exit code
  const both = [result.stdout, result.stderr]
    .map((t) => t.split('\n').filter((l) => !/^@@[a-z-]+(=.*)?$/.test(l)).join('\n').replace(/\s+$/, ''))
    .filter((s) => s !== '')
    .join('\n');
  // scripts that report their inner exit code in a marker pass it (or null: not meaningful)
  const exitCode = opts.exitCode === undefined ? result.exitCode : opts.exitCode;
  return {
    host,
    command: redact(opts.label ?? result.command),
    ...(exitCode === null ? {} : { exitCode }),
    output: redact(tailLines(both, opts.lines ?? EVIDENCE_LINES)),
  };
}

/** The number in a `@@name=N` marker line of a script's output, or null. */
export function markerExit(stdout: string, name: string): number | null {
  const m = stdout.match(new RegExp(`^@@${name}=(\\d+)\\s*$`, 'm'));
  return m ? Number(m[1]) : null;
}

/** Evidence from an error a command threw (RemoteCommandError carries command, exit code and stderr), or null. */
export function evidenceFromError(e: unknown, host: string | undefined, redact: (s: string) => string): Evidence | null {
  if (e instanceof RemoteCommandError) {
    const out = [e.stdout.replace(/\s+$/, ''), e.stderrTail.join('\n')].filter((s) => s !== '').join('\n');
    return { host: e.host ?? host ?? '?', command: redact(e.command), exitCode: e.remoteExitCode, output: redact(tailLines(out)) };
  }
  if (isKubiError(e) && (e.host ?? host)) {
    return { host: (e.host ?? host)!, command: '(transport)', output: redact(e.summary) };
  }
  return null;
}
