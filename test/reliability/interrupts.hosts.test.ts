/**
 * Interrupted runs (issue 10), on a 3-node lab (kubirelint, 10.169.1.0/24): `up --until endpoint`
 * (the last step that runs in the lab: there is no k3s binary offline) is killed at random points,
 * SIGKILL and SIGINT, at least 20 times; after each kill a re-run must converge.
 *
 * How the kill points are chosen: a fresh run is measured first (its step timeline comes from
 * the run log). Kill times are stratified over that duration (one uniform draw per slice, seeded,
 * the seed printed; replay with KUBI_REL_SEED) and mapped to (step, offset into the step). Before
 * each kill, only the component of that step is reset on the nodes (its files removed, its
 * services stopped, its packages purged; for etcd also the data and the leaf certificates, never
 * the CA), so the killed run does real work exactly there; the kill fires when the run log shows
 * the step has started plus the offset. Kills before the first step hit connect/facts.
 *
 * After every kill:
 *  - SIGINT: the run stops by itself within a bound, exit 130, and no lock is left;
 *    SIGKILL: a lock left behind names the dead pid and the re-run explains it replaces it;
 *  - no local child process of the killed run is left;
 *  - every managed file on every node (the list comes from `plan --output json` on fresh nodes)
 *    is absent or complete: size > 0 and its content is the old or the final content, never a part;
 *  - the state directory is intact: PKI parses, keys 0600, dirs 0700, the CA never changes;
 * and after the re-run (exit 0): every managed file is present, complete, with the planned mode,
 * its content equal to the converged content (PKI files equal to the state directory's), no temp
 * files beside any of them; `plan` says up to date (checked every few kills and at the end).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, startCli, suiteSeed } from './helpers.js';
import {
  checkStateDir,
  kubi,
  managedFiles,
  planJson,
  script,
  snapshot,
  startRelLab,
  type ManagedFile,
  type NodeSnapshot,
  type RelLab,
} from './lab-kit.js';

const LAB = 'kubirelint';
const SUBNET = '10.169.1.0/24';
const UNTIL = 'endpoint';
const KILLS = Number(process.env.KUBI_REL_KILLS ?? 20);
/** SIGINT lets work in flight finish: a bound on that, not a speed check */
const SIGINT_BOUND_MS = 240_000;

let work: string;
let lab: RelLab;
let files: ManagedFile[];
/** converged content per host and path */
let reference: Map<string, Map<string, string>>;
let caFingerprint: string;
/** step id -> [start, end] ms since the process started, from the fresh run */
let timeline: { step: string; start: number; end: number }[];
let freshMs: number;

const component = (step: string): string => {
  const [c] = step.split('.');
  return c === 'pki' || c === 'artifacts' ? 'etcd' : c!;
};

/** Parse a run log into step start/end offsets (ms since its first line). */
function readTimeline(logFile: string): { step: string; start: number; end: number }[] {
  const lines = readFileSync(logFile, 'utf8').split('\n');
  const t0 = Date.parse(/started (\S+)/.exec(lines[0] ?? '')?.[1] ?? '');
  const out = new Map<string, { step: string; start: number; end: number }>();
  for (const l of lines) {
    const m = /^(\S+) - step-(start|end) (\S+?):? /.exec(l);
    if (!m) continue;
    const at = Date.parse(m[1]!) - t0;
    const step = m[3]!;
    if (m[2] === 'start') out.set(step, { step, start: at, end: at });
    else if (out.has(step)) out.get(step)!.end = at;
  }
  return [...out.values()];
}

function runLogOf(stderr: string): string | null {
  return /run log: (\S+)/.exec(stderr)?.[1] ?? null;
}

/**
 * Reset what the target step works on, on every node (and locally), so the next run does real
 * work there: the files of the step's component are removed and its services stopped; packages
 * are purged only for the steps that install them; leaf certificates are deleted only for
 * pki.etcd (never the CA). etcd keeps its data: its members restart, they do not re-bootstrap.
 */
async function resetFor(step: string): Promise<void> {
  const c = component(step);
  const own = files.filter((f) => component(stepOfFile.get(`${f.host}\0${f.path}`) ?? '') === c);
  const purge = (pkgs: string) => `DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ${pkgs} >/dev/null 2>&1 || true`;
  const stop = (unit: string) => `systemctl disable --now ${unit} >/dev/null 2>&1 || true`;
  const extra: Record<string, string> = {
    'host.preflight': purge('conntrack socat ipset'),
    'host.packages': purge('conntrack socat ipset'),
    'endpoint.install': `${stop('keepalived.service')}; ${purge('keepalived')}`,
  };
  const byComponent: Record<string, string> = {
    etcd: stop('etcd.service'),
    containerd: stop('containerd.service'),
    cni: `${stop('kubi-pod-routes.service')}; rm -rf /etc/cni/net.d/* /opt/cni/bin/*`,
    endpoint: stop('keepalived.service'),
  };
  if (step !== 'pki.etcd' && step !== 'artifacts.etcd') {
    await Promise.all(
      lab.nodes.map((n) =>
        script(
          lab,
          n.name,
          [
            byComponent[c] ?? 'true',
            extra[step] ?? 'true',
            ...own.filter((f) => f.host === n.name).map((f) => `rm -f -- '${f.path}'`),
            `rm -f /var/lib/kubi-provision/fingerprints/${c}*`,
            'systemctl daemon-reload',
            'exit 0',
          ].join('\n') + '\n',
        ),
      ),
    );
  }
  if (step === 'pki.etcd') {
    const pki = path.join(lab.stateDir, 'pki');
    for (const f of readdirSync(pki)) if (!f.startsWith('etcd-ca.')) rmSync(path.join(pki, f));
  }
  touched = new Set(own.map((f) => `${f.host}\0${f.path}`));
  if (step === 'pki.etcd') for (const f of files) if (followsPki(f.path)) touched.add(`${f.host}\0${f.path}`);
}

/** files the current kill's reset removed (hashed in the snapshots; the others keep their size/mode checks) */
let touched = new Set<string>();
const SMALL = /^\/etc\/|\/fingerprints\/|\.sh$|\.conf|\.service$|\.yaml$|\.toml$/;

/** step id of each managed file (from the fresh plan) */
const stepOfFile = new Map<string, string>();

/** Snapshots of every node; `all` hashes every file, otherwise small files and what the reset touched. */
async function snapshotAll(all = false): Promise<Map<string, NodeSnapshot>> {
  const entries = await Promise.all(
    lab.nodes.map(async (n) => {
      const hash = (p: string) => all || SMALL.test(p) || touched.has(`${n.name}\0${p}`);
      return [n.name, await snapshot(lab, n.name, files.filter((f) => f.host === n.name).map((f) => f.path), hash)] as const;
    }),
  );
  return new Map(entries);
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Host PKI files must equal the state directory's certificates of that host. */
function pkiSource(host: string, file: string): string | null {
  const base = path.posix.basename(file);
  const map: Record<string, string> = {
    'ca.crt': 'etcd-ca.crt',
    'server.crt': `etcd-server-${host}.crt`,
    'server.key': `etcd-server-${host}.key`,
    'peer.crt': `etcd-peer-${host}.crt`,
    'peer.key': `etcd-peer-${host}.key`,
    'admin.crt': 'etcd-admin.crt',
    'admin.key': 'etcd-admin.key',
  };
  return file.startsWith('/etc/etcd/pki/') && map[base] ? path.join(lab.stateDir, 'pki', map[base]!) : null;
}
/** files whose content follows the leaf certificates (reissued by an etcd reset) */
const followsPki = (file: string) => file.startsWith('/etc/etcd/pki/') || file.endsWith('/fingerprints/etcd.service');

/** sizes at the last convergence */
const sizes = new Map<string, number>();

/** The converged state: every file present and complete; returns its content hashes. */
function checkConverged(snaps: Map<string, NodeSnapshot>, label: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const problems: string[] = [];
  for (const [host, s] of snaps) {
    const m = new Map<string, string>();
    for (const f of files.filter((x) => x.host === host)) {
      const st = s.files.get(f.path)!;
      if (st.size === null) problems.push(`${host}:${f.path} missing`);
      else if (st.size === 0) problems.push(`${host}:${f.path} is empty`);
      else {
        if (st.mode !== f.mode) problems.push(`${host}:${f.path} mode ${st.mode!.toString(8)}, planned ${f.mode.toString(8)}`);
        const ref = reference?.get(host)?.get(f.path);
        if (st.sha256 === '-') {
          // not rewritten by this kill's reset: its size is what it was at the last convergence
          if (ref && sizes.get(`${host}\0${f.path}`) !== st.size) problems.push(`${host}:${f.path} changed size`);
          m.set(f.path, ref ?? '-');
        } else {
          const src = pkiSource(host, f.path);
          if (src && sha(src) !== st.sha256) problems.push(`${host}:${f.path} differs from ${src}`);
          if (ref && ref !== '-' && !followsPki(f.path) && ref !== st.sha256) problems.push(`${host}:${f.path} content changed from the first convergence`);
          m.set(f.path, st.sha256!);
        }
        sizes.set(`${host}\0${f.path}`, st.size);
      }
    }
    for (const t of s.temps) problems.push(`${host}: leftover temp file ${t}`);
    out.set(host, m);
  }
  expect(problems, `${label}: not converged`).toEqual([]);
  return out;
}

/** phase timings of one kill, for the log (diagnostics only, never asserted) */
function phaseClock(): ((phase: string) => void) & { summary(): string } {
  let last = Date.now();
  const parts: string[] = [];
  const tick = (phase: string) => {
    parts.push(`${phase} ${((Date.now() - last) / 1000).toFixed(1)} s`);
    last = Date.now();
  };
  return Object.assign(tick, { summary: () => parts.join(', ') });
}

const stats = { kills: 0, sigkill: 0, sigint: 0, completedBeforeKill: 0, staleLocksExplained: 0, partialSeen: 0, byStep: new Map<string, number>() };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-int-'));
  lab = await startRelLab(LAB, SUBNET, work);
  // the managed files: what `up` would write on fresh nodes
  const plan = await planJson(lab, lab.inventory, ['--until', UNTIL]);
  for (const s of plan.steps) for (const h of s.hosts) for (const c of h.changes) if (c.kind === 'file' && c.path) stepOfFile.set(`${h.host}\0${c.path}`, s.id);
  files = managedFiles(plan);
  expect(files.length).toBeGreaterThan(30);
  // the measured fresh run
  const started = Date.now();
  const r = await kubi(lab, ['up', lab.inventory, '--until', UNTIL], 900_000);
  freshMs = Date.now() - started;
  expect(r.status, r.stderr.slice(-3000)).toBe(0);
  timeline = readTimeline(runLogOf(r.stderr)!);
  reference = checkConverged(await snapshotAll(true), 'fresh run');
  const st = checkStateDir(lab.stateDir);
  expect(st.problems).toEqual([]);
  caFingerprint = st.caFingerprint;
  expect(caFingerprint).not.toBe('');
  console.log(`[reliability] fresh up --until ${UNTIL}: ${(freshMs / 1000).toFixed(1)} s, ${files.length} managed files, ${timeline.length} steps`);
}, 1_500_000);

afterAll(async () => {
  await lab?.handle.down();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(
    `[reliability] interrupts: ${stats.kills} kills (${stats.sigkill} SIGKILL, ${stats.sigint} SIGINT), ${stats.completedBeforeKill} runs ended before their kill, ` +
      `${stats.staleLocksExplained} stale locks explained, by step: ${[...stats.byStep].map(([s, n]) => `${s} ${n}`).join(', ')}`,
  );
}, 300_000);

describe(`interrupted up --until ${UNTIL}: every re-run converges, nothing is ever partial`, () => {
  it(`${KILLS} kills (SIGKILL and SIGINT) at seeded random points of a fresh run`, async () => {
    const seed = suiteSeed('interrupts');
    const rnd = seededRandom(seed);
    // stratified kill times over the measured run, in a shuffled order, half SIGKILL half SIGINT
    const plans = Array.from({ length: KILLS }, (_, i) => ({ t: ((i + rnd()) * freshMs) / KILLS, signal: (i % 2 === 0 ? 'SIGKILL' : 'SIGINT') as NodeJS.Signals }));
    for (let i = plans.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [plans[i], plans[j]] = [plans[j]!, plans[i]!];
    }
    const firstStep = timeline[0]!.start;
    for (const [n, p] of plans.entries()) {
      const at = timeline.find((s) => p.t >= s.start && p.t < s.end) ?? timeline.filter((s) => s.start <= p.t).pop();
      const target = p.t < firstStep || !at ? null : { step: at.step, offset: p.t - at.start };
      const label = `kill ${n + 1}/${KILLS}: ${p.signal} ${target ? `${target.step} +${Math.round(target.offset)} ms` : `connect +${Math.round(p.t)} ms`} (seed ${seed})`;
      const tick = phaseClock();
      touched = new Set();
      if (target) await resetFor(target.step);
      tick('reset');

      // --- the killed run
      const run = startCli(['up', lab.inventory, '--until', UNTIL], { cwd: lab.dir, detached: true });
      const startedAt = Date.now();
      let killedAt: string | null = null;
      let exited = false;
      void run.done.then(() => (exited = true));
      if (!target) {
        await new Promise((r) => setTimeout(r, p.t));
      } else {
        // wait for the step to start in the run log, then for the offset
        const deadline = startedAt + 600_000;
        let log: string | null = null;
        while (!exited && Date.now() < deadline) {
          log ??= runLogOf(run.output().stderr);
          if (log && existsSync(log) && readFileSync(log, 'utf8').includes(` - step-start ${target.step}:`)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        // the offset into the step; if the step ends sooner here, the kill lands at its end
        const until = Date.now() + target.offset;
        while (!exited && Date.now() < until) {
          if (log && readFileSync(log, 'utf8').includes(` - step-end ${target.step} (`)) break;
          await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, until - Date.now()))));
        }
      }
      if (!exited) {
        killedAt = target?.step ?? 'connect';
        run.kill(p.signal);
      }
      const bound = setTimeout(() => run.kill('SIGKILL'), SIGINT_BOUND_MS);
      const res = await run.done;
      clearTimeout(bound);
      tick('killed run');
      if (killedAt === null) {
        stats.completedBeforeKill++;
        expect(res.status, `${label}: the run ended before its kill, and failed: ${res.stderr.slice(-2000)}`).toBe(0);
      } else {
        stats.kills++;
        stats[p.signal === 'SIGKILL' ? 'sigkill' : 'sigint']++;
        stats.byStep.set(killedAt, (stats.byStep.get(killedAt) ?? 0) + 1);
      }

      // --- right after the kill
      const lockFile = path.join(lab.stateDir, 'lock');
      let lockLeft = false;
      if (killedAt !== null && p.signal === 'SIGINT') {
        expect(res.signal, `${label}: SIGINT did not stop the run by itself within ${SIGINT_BOUND_MS} ms`).toBeNull();
        expect([130, 0, 1], `${label}: exit ${res.status}`).toContain(res.status);
        if (res.status === 130) expect(res.stderr).toMatch(/interrupted/);
        expect(existsSync(lockFile), `${label}: SIGINT left the lock`).toBe(false);
      } else if (killedAt !== null) {
        expect(res.signal).toBe('SIGKILL');
        if (existsSync(lockFile)) {
          lockLeft = true;
          expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid, `${label}: the lock names another pid`).toBe(run.pid);
        }
      }
      const orphans = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.trim().split(/\s+/)[1] === String(run.pid));
      expect(orphans, `${label}: processes of the killed run are left`).toEqual([]);
      const st = checkStateDir(lab.stateDir);
      expect(st.problems, `${label}: state directory`).toEqual([]);
      if (st.caFingerprint) expect(st.caFingerprint, `${label}: the CA changed`).toBe(caFingerprint);
      // a remote writer may need a moment to see its channel close (then its temp file goes)
      await new Promise((r) => setTimeout(r, 1500));
      const afterKill = await snapshotAll();
      for (const [host, s] of afterKill) {
        for (const f of s.files.values()) {
          if (f.size === 0) expect.fail(`${label}: ${host}:${f.path} is empty after the kill`);
        }
      }

      tick('after-kill checks');
      // --- the re-run converges
      const again = await kubi(lab, ['up', lab.inventory, '--until', UNTIL], 900_000);
      expect(again.status, `${label}: the re-run did not converge: ${again.stderr.slice(-3000)}`).toBe(0);
      if (lockLeft) {
        expect(again.stderr, `${label}: the stale lock was not explained`).toMatch(/replacing a stale lock \(pid \d+/);
        stats.staleLocksExplained++;
      }
      tick('re-run');
      const snaps = await snapshotAll();
      const now = checkConverged(snaps, label);
      tick('converged checks');
      console.log(`[reliability] ${label}: ${tick.summary()}`);
      // every file seen right after the kill was whole: the old content or the final one
      for (const [host, s] of afterKill) {
        for (const f of s.files.values()) {
          if (f.sha256 === null || f.sha256 === '-') continue;
          const ok = f.sha256 === now.get(host)?.get(f.path) || f.sha256 === reference.get(host)?.get(f.path);
          if (!ok) stats.partialSeen++;
          expect(ok, `${label}: ${host}:${f.path} held content that is neither the old nor the final one (partial write?)`).toBe(true);
        }
      }
      reference = now;
      expect(checkStateDir(lab.stateDir).caFingerprint, `${label}: the CA changed`).toBe(caFingerprint);
      if ((n + 1) % 7 === 0) {
        const plan = await planJson(lab, lab.inventory, ['--until', UNTIL]);
        expect(plan.upToDate, `${label}: plan after the re-run still has ${plan.totalChanges} changes`).toBe(true);
      }
    }
    expect(stats.kills).toBeGreaterThanOrEqual(Math.min(20, KILLS) - stats.completedBeforeKill);
    const final = await planJson(lab, lab.inventory, ['--until', UNTIL]);
    expect(final.upToDate).toBe(true);
    checkConverged(await snapshotAll(true), 'after all kills');
  }, 3_600_000);
});
