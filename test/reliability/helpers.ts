/**
 * Shared helpers of the reliability suite (test/reliability): running the real CLI as a child
 * process with a hard bound on how long it may take (a bound on hanging, not a speed check), the
 * hostile strings every injection test tries, and a seeded random number generator whose seed is
 * printed so a failing run can be replayed (KUBI_REL_SEED=<n>).
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The CLI under test. KUBI_REL_BIN may name another build of it (a developer's private snapshot
 * while dist/ in a shared tree is being rebuilt by others); CI uses the repository's own.
 */
export const BIN = process.env.KUBI_REL_BIN ?? path.join(ROOT, 'bin/kubi-provision.js');

export interface BoundedResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** true when the child was still running at the bound and was killed */
  hung: boolean;
}

function cleanEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.FORCE_COLOR;
  delete env.KUBI_DEBUG;
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * Run `node bin/kubi-provision.js <args>` synchronously; the child is killed (and `hung` set)
 * when it runs longer than `boundMs`. `heapMiB` caps the child's heap, so a memory blow-up
 * (an alias bomb expanding) crashes it instead of passing slowly.
 */
export function runCliBounded(args: string[], opts: { boundMs: number; cwd?: string; heapMiB?: number; env?: NodeJS.ProcessEnv }): BoundedResult {
  const nodeArgs = opts.heapMiB ? [`--max-old-space-size=${opts.heapMiB}`] : [];
  const r = spawnSync(process.execPath, [...nodeArgs, BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: cleanEnv(opts.env),
    encoding: 'utf8',
    timeout: opts.boundMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const hung = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
  if (r.error && !hung) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', hung };
}

export interface StartedCli {
  pid: number;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** what it printed so far */
  output(): { stdout: string; stderr: string };
  kill(sig: NodeJS.Signals): void;
}

/**
 * The same, asynchronously (for runs that take a while, or that a test interrupts). `detached`
 * gives the child its own process group (pgid = pid), so a test can look for leftovers of it.
 */
export function startCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}): StartedCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached === true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return {
    pid: child.pid!,
    done,
    output: () => ({ stdout, stderr }),
    kill: (sig) => {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Run the CLI to its end with a bound; rejects (naming the command) when it hangs past the bound. */
export async function runCliAsync(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; boundMs: number },
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const c = startCli(args, opts);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`kubi-provision ${args.join(' ')} still ran after ${opts.boundMs} ms: killed`));
    }, opts.boundMs);
  });
  try {
    return await Promise.race([c.done, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: KUBI_REL_SEED when set (to replay a failure), else a fresh one. Printed. */
export function suiteSeed(label: string): number {
  const fromEnv = process.env.KUBI_REL_SEED;
  const seed = fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[reliability] ${label}: seed ${seed} (replay with KUBI_REL_SEED=${seed})`);
  return seed;
}

/**
 * Values that try to run something when they reach a shell, or to smuggle an option into a
 * command line. `{canary}` is replaced by the canary path of the test.
 */
export const HOSTILE_TEMPLATES: readonly string[] = [
  'x$(touch {canary})',
  'x`touch {canary}`',
  'x;touch {canary}',
  'x && touch {canary}',
  'x || touch {canary}',
  'x | touch {canary}',
  'x\ntouch {canary}',
  'x\rtouch {canary}',
  "x'; touch {canary}; echo '",
  'x"; touch {canary}; echo "',
  'x > {canary}',
  'x < /etc/shadow',
  '${IFS}touch${IFS}{canary}',
  'x\u0000touch {canary}',
  '$(printf x)',
  'x\\$(touch {canary})',
  'x\u202etouch {canary}',
];

export function hostileValues(canary: string): string[] {
  return HOSTILE_TEMPLATES.map((t) => t.replaceAll('{canary}', canary));
}
