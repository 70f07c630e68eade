/**
 * Terminal output for the CLI: where text goes (stdout for results, stderr for diagnostics) and
 * whether it may be coloured. Colours are off when NO_COLOR is set (non-empty), with --no-color,
 * when TERM is dumb, or when the stream is not a TTY; FORCE_COLOR (not "0") turns them on for
 * pipes. Also the contract of a command module (`register(program, cli)`).
 */
import type { Command } from 'commander';

export interface Colors {
  readonly enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

export interface Output {
  /** write text to stdout as is (add the newline yourself, or use line) */
  out(text: string): void;
  /** write text to stderr as is */
  err(text: string): void;
  /** one line to stdout */
  line(text?: string): void;
  /** one line to stderr */
  errLine(text?: string): void;
  /** colours for text written to stdout */
  color: Colors;
  /** colours for text written to stderr */
  errColor: Colors;
}

/** What every command module receives from main.ts. */
export interface CliContext {
  output: Output;
  /** --debug given (or KUBI_DEBUG=1): show stack traces */
  debug: boolean;
}

/** A command module: `register` adds its command(s) to the program; implementations load lazily in the action. */
export interface CommandModule {
  register(program: Command, cli: CliContext): void;
}

interface StreamLike {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface ColorSettings {
  env?: NodeJS.ProcessEnv;
  /** --no-color on the command line */
  noColor?: boolean;
}

/** Should text written to this stream be coloured? */
export function colorEnabled(stream: { isTTY?: boolean }, settings: ColorSettings = {}): boolean {
  const env = settings.env ?? process.env;
  if (settings.noColor) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const PLAIN = (s: string) => s;

export function createColors(enabled: boolean): Colors {
  const sgr = (open: number, close: number) => (enabled ? (s: string) => `\x1b[${open}m${s}\x1b[${close}m` : PLAIN);
  return {
    enabled,
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    bold: sgr(1, 22),
    dim: sgr(2, 22),
  };
}

export function createOutput(
  opts: ColorSettings & { stdout?: StreamLike; stderr?: StreamLike } = {},
): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  return {
    out: (text) => void stdout.write(text),
    err: (text) => void stderr.write(text),
    line: (text = '') => void stdout.write(`${text}\n`),
    errLine: (text = '') => void stderr.write(`${text}\n`),
    color: createColors(colorEnabled(stdout, opts)),
    errColor: createColors(colorEnabled(stderr, opts)),
  };
}

/** Remove ANSI escape sequences (for width calculations and plain logs). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '');
}
