// Bench helpers: run a child process under /usr/bin/time (wall, user + system CPU, peak RSS) and
// small statistics. Plain ESM so the bench needs no build step of its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const timeDir = mkdtempSync(path.join(os.tmpdir(), 'kubi-bench-time-'));
let seq = 0;
/** children in flight (stopped by killChildren on Ctrl-C) */
const children = new Set();
process.on('exit', () => rmSync(timeDir, { recursive: true, force: true }));

/**
 * Run argv; resolves with { code, stdout, stderr, wallMs, cpuS, userS, sysS, maxRssMiB }.
 * stdout/stderr are kept (the caller decides what to print). Never throws for a non-zero exit.
 */
export function run(argv, { cwd, env, timeoutMs = 15 * 60_000, echo = false } = {}) {
  const timeFile = path.join(timeDir, `t${seq++}`);
  const full = ['/usr/bin/time', '-o', timeFile, '-f', '%e %U %S %M', ...argv];
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(full[0], full.slice(1), { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => {
      out.push(b);
      if (echo) process.stdout.write(b);
    });
    child.stderr.on('data', (b) => {
      err.push(b);
      if (echo) process.stderr.write(b);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      children.delete(child);
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      let userS = NaN;
      let sysS = NaN;
      let maxRssMiB = NaN;
      try {
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
        const [, u, s, m] = last.split(' ').map(Number);
        userS = u;
        sysS = s;
        maxRssMiB = m / 1024;
      } catch {
        /* time(1) wrote nothing: the child could not start */
      }
      rmSync(timeFile, { force: true });
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), wallMs, userS, sysS, cpuS: userS + sysS, maxRssMiB });
    });
  });
}

/** run() that throws with the output tail when the exit code is not 0 */
export async function mustRun(argv, opts) {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    const tail = (r.stdout + '\n' + r.stderr).trim().split('\n').slice(-25).join('\n');
    throw new Error(`command failed (exit ${r.code}): ${argv.join(' ')}\n${tail}`);
  }
  return r;
}

/** SIGTERM to every child in flight (time(1) passes it on to the command it runs). */
export function killChildren() {
  for (const c of children) c.kill('SIGTERM');
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function minMax(xs) {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
}

export const load1 = () => os.loadavg()[0];
