import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockPath, readLock, type LockInfo } from '../../src/engine/lock.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'kubi-lock-'));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('cluster lock', () => {
  it('holds pid, hostname, command, start time; a second run is refused naming the holder', () => {
    const dir = tmp();
    const lock = acquireLock(dir, 'up', { now: () => new Date('2025-03-01T10:00:00Z') });
    const info = readLock(lockPath(dir));
    expect(info).toEqual({ pid: process.pid, hostname: os.hostname(), command: 'up', startedAt: '2025-03-01T10:00:00.000Z' });
    expect(statSync(lockPath(dir)).mode & 0o777).toBe(0o600);
    expect(() => acquireLock(dir, 'plan')).toThrow(
      `another run holds the cluster lock: pid ${process.pid} on ${os.hostname()} (kubi-provision up) since 2025-03-01T10:00:00.000Z`,
    );
    lock.release();
    expect(existsSync(lockPath(dir))).toBe(false);
    lock.release(); // idempotent
    acquireLock(dir, 'plan').release();
  });

  it('detects a stale lock (its process is gone), explains it and replaces it', () => {
    const dir = tmp();
    // a real process that has exited: its pid is not alive any more
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    const stale: LockInfo = { pid: deadPid, hostname: os.hostname(), command: 'up', startedAt: '2025-01-01T00:00:00.000Z' };
    writeFileSync(lockPath(dir), JSON.stringify(stale));
    const told: string[] = [];
    const lock = acquireLock(dir, 'up', { onStale: (s, why) => told.push(`${s.pid} ${why}`) });
    expect(told).toEqual([`${deadPid} process ${deadPid} no longer runs on ${os.hostname()}`]);
    expect(readLock(lockPath(dir))!.pid).toBe(process.pid);
    lock.release();
  });

  it('does not treat a lock from another machine as stale', () => {
    const dir = tmp();
    writeFileSync(lockPath(dir), JSON.stringify({ pid: 999999, hostname: 'elsewhere', command: 'up', startedAt: 'x' }));
    expect(() => acquireLock(dir, 'up', { isAlive: () => false })).toThrow(/pid 999999 on elsewhere/);
  });

  it('release never removes a lock that is not ours', () => {
    const dir = tmp();
    const lock = acquireLock(dir, 'up');
    writeFileSync(lockPath(dir), JSON.stringify({ pid: 1, hostname: 'other', command: 'up', startedAt: 'y' }));
    lock.release();
    expect(readLock(lockPath(dir))!.hostname).toBe('other');
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    // runs the compiled lock module (dist/, built by the global setup) in a real child process
    it(`is released when the process gets ${signal}`, async () => {
      const dir = tmp();
      const script = `
        import { acquireLock, handleSignals } from ${JSON.stringify(path.join(root, 'dist/engine/lock.js'))};
        acquireLock(${JSON.stringify(dir)}, 'up');
        handleSignals();
        process.stdout.write('locked\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
      });
      expect(existsSync(lockPath(dir))).toBe(true);
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(existsSync(lockPath(dir))).toBe(false);
    });
  }
});
