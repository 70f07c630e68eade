/**
 * The run log: every run writes `<stateDir>/runs/<ISO timestamp>-<command>.log` (file 0600,
 * directory 0700) with each remote command (host, read-only or mutating, exit code, duration,
 * output) and the engine's step events. Every line goes through the redactor. Only the newest
 * `keep` logs are kept. Writes are synchronous appends, so a crash still leaves a useful log.
 */
import { closeSync, mkdirSync, chmodSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { redactor as defaultRedactor, type Redactor } from '../redact.js';
import type { CommandLogSink } from '../transport/types.js';
import { describeChange } from './describe.js';
import type { EngineEvent } from './events.js';

export const DEFAULT_KEEP_LOGS = 50;
/** per stream, per command: longer output is cut (the tail is dropped and the size noted) */
const MAX_STREAM_CHARS = 32 * 1024;

export interface RunLogOptions {
  /** the CLI command (`up`, `plan`): part of the file name */
  command: string;
  keep?: number;
  now?: () => Date;
  redactor?: Redactor;
}

/** `2025-01-02T03:04:05.678Z` -> `2025-01-02T03-04-05.678Z` (no colons in file names). */
export function logTimestamp(d: Date): string {
  return d.toISOString().replace(/:/g, '-');
}

/** Remove all but the newest `keep` run logs (names sort by time). Returns the removed names. */
export function pruneRunLogs(dir: string, keep: number): string[] {
  const logs = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  const remove = logs.slice(0, Math.max(0, logs.length - keep));
  for (const f of remove) rmSync(path.join(dir, f), { force: true });
  return remove;
}

export class RunLog implements CommandLogSink {
  readonly path: string;
  private fd: number | null;
  private readonly now: () => Date;
  private readonly redactor: Redactor;

  private constructor(file: string, fd: number, now: () => Date, redactor: Redactor) {
    this.path = file;
    this.fd = fd;
    this.now = now;
    this.redactor = redactor;
  }

  /** Create the log file (and `runs/` 0700), prune old logs, write the header line. */
  static open(stateDir: string, opts: RunLogOptions): RunLog {
    const now = opts.now ?? (() => new Date());
    const dir = path.join(stateDir, 'runs');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const command = opts.command.replace(/[^a-z0-9-]/gi, '_');
    const stamp = logTimestamp(now());
    let file = path.join(dir, `${stamp}-${command}.log`);
    let fd: number | null = null;
    for (let i = 1; fd === null; i++) {
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 100) throw e;
        file = path.join(dir, `${stamp}-${command}-${i}.log`);
      }
    }
    const log = new RunLog(file, fd, now, opts.redactor ?? defaultRedactor);
    pruneRunLogs(dir, Math.max(1, opts.keep ?? DEFAULT_KEEP_LOGS));
    log.write(`# kubi-provision ${opts.command}: started ${now().toISOString()} (pid ${process.pid})`);
    return log;
  }

  private write(text: string): void {
    if (this.fd === null) return;
    writeSync(this.fd, this.redactor.redact(text) + '\n');
  }

  private line(host: string | null, text: string): void {
    this.write(`${this.now().toISOString()} ${host ?? '-'} ${text}`);
  }

  command(entry: Parameters<CommandLogSink['command']>[0]): void {
    const kind = entry.mutating ? 'mutating' : 'read-only';
    const exit = entry.exitCode === null ? 'exit=none' : `exit=${entry.exitCode}`;
    const label = entry.label && entry.label !== entry.command ? `[${entry.label}] ` : '';
    const lines = [`${kind} ${exit} ${Math.round(entry.durationMs)}ms ${label}${entry.command}`];
    for (const [tag, text] of [
      ['out', entry.stdout],
      ['err', entry.stderr],
    ] as const) {
      if (!text) continue;
      const cut = text.length > MAX_STREAM_CHARS ? `${text.slice(0, MAX_STREAM_CHARS)}\n... (${text.length - MAX_STREAM_CHARS} more characters)` : text;
      for (const l of cut.replace(/\n$/, '').split('\n')) lines.push(`    ${tag}| ${l}`);
    }
    this.line(entry.host, lines.join('\n'));
  }

  event(host: string | null, message: string): void {
    this.line(host, `event: ${message}`);
  }

  /** An EventListener for the runner. */
  readonly engineEvent = (e: EngineEvent): void => {
    switch (e.type) {
      case 'run-start':
        this.line(null, `run-start ${e.mode} playbook ${e.playbook}: ${e.steps.map((s) => s.id).join(', ') || '(no steps)'}`);
        break;
      case 'step-start':
        this.line(null, `step-start ${e.step}: ${e.title} [${e.strategy}] on ${e.hosts.join(', ') || '(no hosts)'}`);
        break;
      case 'host-start':
        this.line(e.host, `host-start ${e.step}`);
        break;
      case 'host-message':
        this.line(e.host, `${e.step}: ${e.message}`);
        break;
      case 'host-result': {
        const lines = [`host-result ${e.step}: ${e.status} (${e.changes.length} change${e.changes.length === 1 ? '' : 's'}, ${Math.round(e.durationMs)}ms)`];
        if (e.reason) lines.push(`    reason: ${e.reason}`);
        for (const c of e.changes) lines.push(`    - ${describeChange(c)}`);
        if (e.error) {
          lines.push(`    error [${e.error.code}]: ${e.error.message}`);
          if (e.error.hint) lines.push(`    hint: ${e.error.hint}`);
        }
        this.line(e.host, lines.join('\n'));
        break;
      }
      case 'step-end':
        this.line(null, `step-end ${e.step} (${Math.round(e.durationMs)}ms): ${Object.entries(e.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'no hosts'}`);
        break;
      case 'run-end':
        this.line(null, `run-end ${e.ok ? 'ok' : 'failed'} (${Math.round(e.durationMs)}ms)`);
        break;
    }
  };

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
