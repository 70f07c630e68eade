/** Runs the real CLI (bin/kubi-provision.js -> dist/, built by the global setup) as a child process. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/kubi-provision.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeOptions?: string[]; cwd?: string } = {}): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // the child decides colours itself: make the tests independent of the caller's terminal settings
  if (!opts.env || !('FORCE_COLOR' in opts.env)) delete env.FORCE_COLOR;
  if (!opts.env || !('NO_COLOR' in opts.env)) delete env.NO_COLOR;
  delete env.KUBI_DEBUG;
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [...(opts.nodeOptions ?? []), BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Lines that look like a stack trace frame. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s{4}at /.test(l));
}

// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[[0-9;]*m/;
