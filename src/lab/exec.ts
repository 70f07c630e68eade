/**
 * Local commands of the lab (ip, lxc-*, qemu-*, debootstrap, apt-get ...), run through zx `$`.
 *
 * Every command and its output go into the lab log file; a failing command becomes a
 * `LabCommandError` (KubiError `lab-command`) that names the command, its exit code and the last
 * lines of its stderr, with a hint pointing at the log. Commands that must run inside the lab's
 * network namespace go through `nsenter --net=/run/netns/<ns>` (NOT `ip netns exec`, which remounts
 * /sys and hides the cgroup hierarchy that lxc-start needs: lab-report pitfall 12).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { KubiError } from '../errors.js';

export interface RunOptions {
  /** bytes written to stdin */
  input?: string | Buffer;
  /** return the result instead of throwing on a non-zero exit */
  allowFailure?: boolean;
  /** kill the command after this long (the error says so) */
  timeoutMs?: number;
  cwd?: string;
  /** extra environment variables */
  env?: Record<string, string>;
  /** run inside this network namespace: a name (/run/netns/<name>) or an absolute path (/proc/<pid>/ns/net) */
  netns?: string;
  /** do not copy stdout into the log (large or binary output) */
  quietStdout?: boolean;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class LabCommandError extends KubiError {
  readonly command: string;
  readonly commandExitCode: number | null;
  readonly stderrTail: string;

  constructor(command: string, exitCode: number | null, stderr: string, logFile: string | null) {
    const tail = lastLines(stderr, 5);
    const how = exitCode === null ? 'was killed' : `failed (exit ${exitCode})`;
    super('lab-command', `lab command ${how}: ${command}`, {
      hint: [tail ? `stderr: ${tail.replace(/\n/g, ' | ')}` : '', logFile ? `full output in ${logFile}` : '']
        .filter(Boolean)
        .join('; '),
    });
    this.name = 'LabCommandError';
    this.command = command;
    this.commandExitCode = exitCode;
    this.stderrTail = tail;
  }
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n').trim();
}

/** The pasteable form of an argv (POSIX single quotes where needed; for logs and errors). */
export function pasteable(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_\-./:=@,+%]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The argv prefix that switches only the network namespace. */
export function netnsPrefix(netns: string): string[] {
  return ['nsenter', `--net=${netns.startsWith('/') ? netns : `/run/netns/${netns}`}`, '--'];
}

/** Runs local commands and writes them, with their output, into one log file. */
export class LocalRunner {
  constructor(readonly logFile: string | null) {
    if (logFile) mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  }

  log(line: string): void {
    if (!this.logFile) return;
    appendFileSync(this.logFile, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const full = opts.netns ? [...netnsPrefix(opts.netns), ...argv] : [...argv];
    const command = pasteable(full);
    this.log(`$ ${command}`);
    const started = Date.now();
    const shell = $({
      quiet: true,
      nothrow: true,
      verbose: false,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.timeoutMs ? { timeout: opts.timeoutMs, timeoutSignal: 'SIGKILL' as const } : {}),
      env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', ...(opts.env ?? {}) },
    });
    const out = await shell`${full}`;
    const result: RunResult = {
      command,
      exitCode: out.exitCode ?? -1,
      stdout: out.stdout,
      stderr: out.stderr,
    };
    const took = Date.now() - started;
    if (!opts.quietStdout && out.stdout.trim()) this.log(indent(out.stdout));
    if (out.stderr.trim()) this.log(indent(out.stderr));
    this.log(`  -> exit ${out.exitCode ?? `signal ${out.signal ?? '?'}`} in ${took} ms`);
    if (out.exitCode !== 0 && !opts.allowFailure) {
      const err = new LabCommandError(command, out.exitCode, out.stderr || out.stdout, this.logFile);
      if (out.exitCode === null && opts.timeoutMs) {
        throw new KubiError('lab-command-timeout', `lab command timed out after ${Math.round(opts.timeoutMs / 1000)} s: ${command}`, {
          ...(this.logFile ? { hint: `full output in ${this.logFile}` } : {}),
          cause: err,
        });
      }
      throw err;
    }
    return result;
  }

  /** Run and return trimmed stdout. */
  async output(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return (await this.run(argv, opts)).stdout.trim();
  }

  /** true when the command exits 0 (never throws on a non-zero exit). */
  async succeeds(argv: readonly string[], opts: RunOptions = {}): Promise<boolean> {
    return (await this.run(argv, { ...opts, allowFailure: true })).exitCode === 0;
  }
}

function indent(text: string): string {
  const lines = text.trimEnd().split('\n');
  const shown = lines.length > 200 ? [...lines.slice(0, 20), `  ... ${lines.length - 40} lines ...`, ...lines.slice(-20)] : lines;
  return shown.map((l) => `  | ${l}`).join('\n');
}
