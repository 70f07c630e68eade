/**
 * One run at a time per cluster: `<stateDir>/lock` holds pid, hostname, command and start time.
 * It is created atomically (written to a temp file, then hard-linked into place, which fails if
 * the lock exists), so a reader never sees a half-written lock. A second run refuses with who
 * holds it since when. A lock left by a process that no longer runs on this machine is stale:
 * it is explained (through `onStale`) and replaced. Released on exit and on SIGINT/SIGTERM.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubiError } from '../errors.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  command: string;
  /** ISO time */
  startedAt: string;
}

export interface AcquireOptions {
  now?: () => Date;
  /** told when a stale lock is replaced (the CLI prints it) */
  onStale?: (stale: LockInfo, why: string) => void;
  /** is this pid alive on this machine? (injectable for tests; default: signal 0) */
  isAlive?: (pid: number) => boolean;
  hostname?: string;
  pid?: number;
}

export interface HeldLock {
  readonly path: string;
  readonly info: LockInfo;
  /** remove the lock if it is still ours; idempotent, synchronous (safe in an exit handler) */
  release(): void;
}

export function lockPath(stateDir: string): string {
  return path.join(stateDir, 'lock');
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(file: string): LockInfo | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.command === 'string' && typeof v.startedAt === 'string') {
      return v as LockInfo;
    }
  } catch {
    /* fall through */
  }
  return { pid: -1, hostname: '?', command: '?', startedAt: '?' };
}

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid} on ${info.hostname} (kubi-provision ${info.command}) since ${info.startedAt}`;
}

const held = new Set<HeldLock>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of [...held]) l.release();
  });
}

/** Take the cluster's lock or throw `locked` naming the holder. */
export function acquireLock(stateDir: string, command: string, opts: AcquireOptions = {}): HeldLock {
  const file = lockPath(stateDir);
  const info: LockInfo = {
    pid: opts.pid ?? process.pid,
    hostname: opts.hostname ?? os.hostname(),
    command,
    startedAt: (opts.now ?? (() => new Date()))().toISOString(),
  };
  const isAlive = opts.isAlive ?? pidAlive;
  const text = JSON.stringify(info) + '\n';
  const tmp = `${file}.${info.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
      }
      const holder = readLock(file);
      if (holder === null) continue; // released in between: try again
      const sameMachine = holder.hostname === info.hostname;
      if (sameMachine && holder.pid > 0 && !isAlive(holder.pid)) {
        // re-read just before removing: narrows the window in which two runs both replace it
        const again = readLock(file);
        if (again && again.pid === holder.pid && again.startedAt === holder.startedAt) {
          opts.onStale?.(holder, `process ${holder.pid} no longer runs on ${holder.hostname}`);
          rmSync(file, { force: true });
        }
        continue;
      }
      if (holder.pid === -1) {
        throw new KubiError('locked', `the cluster lock ${file} is unreadable`, { hint: `if no other kubi-provision run is going on, remove ${file}` });
      }
      throw new KubiError('locked', `another run holds the cluster lock: ${describeHolder(holder)}`, {
        hint: sameMachine
          ? `wait for it to finish; if that process is not kubi-provision, remove ${file}`
          : `it runs on another machine (${holder.hostname}); wait for it, or remove ${file} if you are sure it is gone`,
      });
    }
  } finally {
    rmSync(tmp, { force: true });
  }

  let released = false;
  const lock: HeldLock = {
    path: file,
    info,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      const current = readLock(file);
      if (current && current.pid === info.pid && current.startedAt === info.startedAt && current.hostname === info.hostname) {
        rmSync(file, { force: true });
      }
    },
  };
  held.add(lock);
  installExitHook();
  return lock;
}

/**
 * Handle SIGINT/SIGTERM while a lock is held: the first signal calls `onFirstSignal` (e.g. cancel
 * the run gracefully) when given; without it, or on a second signal, release every held lock and
 * exit 130 (SIGINT) / 143 (SIGTERM). Returns a function that removes the handlers.
 */
export function handleSignals(onFirstSignal?: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1 && onFirstSignal) {
      onFirstSignal(signal);
      return;
    }
    for (const l of [...held]) l.release();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
