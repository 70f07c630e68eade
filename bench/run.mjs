#!/usr/bin/env node
// kubi-provision benchmarks, side by side with an Ansible baseline: `npm run bench` (as root).
//
// Builds a private snapshot of the CLI (bench/.build/: other engineers rebuilding dist/ cannot
// disturb a run), brings up its own lab (namespace kubibn, 10.211.0.0/24; KUBI_BENCH_LAB /
// KUBI_BENCH_SUBNET override), measures, ALWAYS takes the lab down at the end, then writes the
// tables between the markers of BENCHMARKS.md and the raw samples to bench/results/latest.json.
//
// Phases (the tool and Ansible alternate, on the same kind of fresh nodes and on the same nodes):
//   1. F times: fresh `up` on 3 new nodes; the Ansible playbook on 3 new nodes; fresh `up` on 6
//      new nodes (the last 6-node lab then gets R converged re-runs);
//   2. on 3 nodes the tool provisioned: R rounds of converged `up`, converged `up --until
//      etcd.roll` and converged Ansible; the issue-3 engine benchmark (R fresh + R converged);
//      `replace` of one etcd node after `lab rebuild` (when the command exists);
//   3. fresh `up` on 9 new nodes, then R converged re-runs.
//
// Options: --runs R (default 5) --fresh-runs F (default 5) --quick (R=2, F=1: to try it out)
//          --no-ansible --no-write (print only) --wait-load L (wait until the 1-minute load
//          average is below L before measuring; at most --wait-max-min minutes, default 60)
//          --report-only (no measuring: render BENCHMARKS.md again from bench/results/latest.json)
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeMasters, exportFiles, runAnsible, writeInventory } from './lib/ansible.mjs';
import { BENCH_DIR, CLI, NAMESPACE, SUBNET, cli, labDown, labUp, nodeCpu, readLab, ssh } from './lib/lab.mjs';
import { machine } from './lib/machine.mjs';
import { killChildren, load1, mustRun, run } from './lib/proc.mjs';
import { renderReport, writeBenchmarksMd } from './lib/report.mjs';

const ROOT = path.dirname(BENCH_DIR);
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
};
const quick = flag('--quick');
const R = value('--runs', quick ? 2 : 5);
const F = value('--fresh-runs', quick ? 1 : 5);
const withAnsible = !flag('--no-ansible');
const UNTIL_ALL = 'endpoint.configure'; // the last step before k3s: the lab has no k3s binary
const UNTIL_ETCD = 'etcd.roll'; // host preparation, PKI and etcd: what the Ansible baseline does

const say = (line) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${load1().toFixed(1)}] ${line}\n`);
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

if (flag('--report-only')) {
  const latest = JSON.parse(readFileSync(path.join(BENCH_DIR, 'results', 'latest.json'), 'utf8'));
  const labMd = path.join(BENCH_DIR, 'lab-results.md');
  writeBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), renderReport(latest, existsSync(labMd) ? readFileSync(labMd, 'utf8') : null));
  process.stdout.write('BENCHMARKS.md rendered again from bench/results/latest.json\n');
  process.exit(0);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('bench: run as root (the lab needs network namespaces and containers)\n');
  process.exit(2);
}
if (withAnsible && (await run(['ansible-playbook', '--version'])).code !== 0) {
  process.stderr.write('bench: ansible-playbook is missing: apt-get install -y ansible-core (or pass --no-ansible)\n');
  process.exit(2);
}

/** The commit measured, and how many files under src/ differed from it (the snapshot is built from the working tree). */
async function gitState() {
  const head = await run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = await run(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src', 'templates', 'playbooks']);
  return { commit: head.stdout.trim(), changedFiles: dirty.stdout.split('\n').filter(Boolean).length };
}

const work = mkdtempSync(path.join(os.tmpdir(), 'kubi-bench-'));
const controlDirs = [];
const results = {
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  startedAt: new Date().toISOString(),
  options: { runs: R, freshRuns: F, ansible: withAnsible, namespace: NAMESPACE, subnet: SUBNET },
  machine: await machine(),
  git: await gitState(),
  load: { start: os.loadavg() },
  labUp: [],
  fresh: { tool3: [], tool6: [], tool9: [], ansible3: [] },
  converged: { tool3: [], tool3etcd: [], tool6: [], tool9: [], ansible3: [] },
  engine: { fresh: [], converged: [] },
  replace: null,
  notes: [],
};

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    say(`${sig}: stopping the command in flight, taking the lab down`);
    killChildren();
    void cleanup().finally(() => process.exit(130));
  });
}

async function cleanup() {
  await labDown();
  for (const d of controlDirs) await closeMasters(d);
  rmSync(work, { recursive: true, force: true });
}

async function waitForLoad() {
  const limit = value('--wait-load', NaN);
  if (!Number.isFinite(limit)) return;
  const deadline = Date.now() + value('--wait-max-min', 60) * 60_000;
  while (load1() >= limit && Date.now() < deadline) {
    say(`waiting for the load average to drop below ${limit}`);
    await new Promise((r) => setTimeout(r, 60_000));
  }
}

/** Build the CLI snapshot the bench measures. */
async function buildSnapshot() {
  const out = path.join(BENCH_DIR, '.build');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await mustRun(['node', path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(out, 'dist')], { cwd: ROOT });
  for (const d of ['bin', 'templates', 'playbooks']) cpSync(path.join(ROOT, d), path.join(out, d), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(out, 'package.json'));
  const v = await mustRun(cli('--version'));
  say(`built the CLI snapshot ${CLI} (kubi-provision ${v.stdout.trim()})`);
}

async function newLab(nodes, label) {
  const dir = path.join(work, label);
  mkdirSync(dir, { recursive: true });
  const lab = await labUp(nodes, dir);
  results.labUp.push({ nodes, wallMs: lab.wallMs, load: load1() });
  say(`lab up ${nodes} nodes: ${secs(lab.wallMs)}`);
  return lab;
}

/** One `up` as a user runs it (own process), with its stats file. */
async function toolUp(lab, until, label) {
  const statsFile = path.join(path.dirname(lab.inventory), `stats-${label}.json`);
  const load = load1();
  const cpu = lab.cpu ?? null;
  const cpuBefore = cpu ? cpu.read() : 0;
  const r = await run(cli('up', lab.inventory, '--until', until, '--quiet', '--stats-json', statsFile));
  const hostCpuS = cpu ? Math.max(0, cpu.read() - cpuBefore - cpu.idlePerS * (r.wallMs / 1000)) : null;
  if (r.code !== 0) throw new Error(`up ${label} failed (exit ${r.code}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`);
  const stats = JSON.parse(readFileSync(statsFile, 'utf8'));
  keepRunLog(lab, label);
  const hosts = Object.values(stats.hosts);
  const overheadMs = r.wallMs - stats.timings.totalMs; // node start + module loading + exit
  let etcdMs = overheadMs + stats.timings.connectMs + stats.timings.factsMs;
  for (const s of stats.steps) {
    etcdMs += s.durationMs;
    if (s.id === UNTIL_ETCD) break;
  }
  const sample = {
    label,
    nodes: lab.nodes.length,
    until,
    wallMs: r.wallMs,
    cpuS: r.cpuS,
    maxRssMiB: r.maxRssMiB,
    load,
    summary: r.stdout.trim(),
    upToDate: r.stdout.startsWith('up to date'),
    etcdHealthyMs: etcdMs,
    timings: stats.timings,
    steps: stats.steps.map((s) => ({ id: s.id, durationMs: s.durationMs, changed: s.changed })),
    perHost: {
      connections: hosts.reduce((a, h) => a + h.connections, 0) / hosts.length,
      roundTrips: hosts.reduce((a, h) => a + h.roundTrips, 0) / hosts.length,
      bytesSent: hosts.reduce((a, h) => a + h.bytesSent, 0) / hosts.length,
    },
    bytesUploaded: stats.totals.bytesUploaded,
    filesUploaded: stats.totals.filesUploaded,
    hostCpuS,
  };
  say(`up ${label} (${lab.nodes.length} nodes, --until ${until}): ${secs(r.wallMs)}, cpu ${r.cpuS.toFixed(2)} s, ${sample.perHost.roundTrips.toFixed(1)} round trips/host, ${stats.totals.bytesUploaded} bytes uploaded: ${sample.summary}`);
  return sample;
}

/** `lab down` removes the cluster's state directory: keep the newest run log (bench/results/logs/, for "where the time goes"). */
function keepRunLog(lab, label) {
  if (flag('--no-write')) return;
  try {
    const dir = path.join(lab.stateDir, 'runs');
    const newest = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().pop();
    if (!newest) return;
    const into = path.join(BENCH_DIR, 'results', 'logs');
    mkdirSync(into, { recursive: true });
    cpSync(path.join(dir, newest), path.join(into, `${label}.log`));
  } catch {
    /* a missing log costs only the evidence */
  }
}

async function ansible(lab, filesRoot, label) {
  const controlDir = path.join(work, `cp-${label}`);
  mkdirSync(path.join(controlDir, 'tmp'), { recursive: true });
  if (!controlDirs.includes(controlDir)) controlDirs.push(controlDir);
  const inventoryFile = writeInventory(lab, path.join(path.dirname(lab.inventory), 'ansible.ini'));
  const load = load1();
  const r = await runAnsible({ inventoryFile, filesRoot, controlDir });
  if (r.code !== 0) throw new Error(`ansible ${label} failed (exit ${r.code}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-30).join('\n')}`);
  const changed = Object.values(r.recap).reduce((a, c) => a + (c.changed ?? 0), 0);
  say(`ansible ${label} (${lab.nodes.length} nodes): ${secs(r.wallMs)}, cpu ${r.cpuS.toFixed(2)} s, changed=${changed}`);
  return { label, nodes: lab.nodes.length, wallMs: r.wallMs, cpuS: r.cpuS, maxRssMiB: r.maxRssMiB, load, changed, recap: r.recap, controlDir };
}

const ENGINE_CLEAN =
  'systemctl disable --now kubi-bench-1.service kubi-bench-2.service kubi-bench-3.service kubi-bench-4.service >/dev/null 2>&1; ' +
  'rm -rf /etc/kubi-bench /etc/systemd/system/kubi-bench-*.service /var/lib/kubi-provision/fingerprints/kubi-bench-*; systemctl daemon-reload';

async function engineRun(lab, label) {
  const statsFile = path.join(path.dirname(lab.inventory), `engine-${label}.json`);
  const load = load1();
  const r = await run(['node', path.join(BENCH_DIR, 'engine-playbook.mjs'), lab.inventory, path.dirname(lab.inventory), statsFile]);
  if (r.code !== 0) throw new Error(`engine benchmark ${label} failed (exit ${r.code}):\n${(r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n')}`);
  const stats = JSON.parse(readFileSync(statsFile, 'utf8'));
  const hosts = Object.values(stats.hosts);
  const steps = stats.steps.length;
  const sample = {
    label,
    wallMs: r.wallMs,
    inProcessMs: stats.timings.totalMs,
    cpuS: r.cpuS,
    load,
    steps,
    summary: r.stdout.trim(),
    upToDate: r.stdout.startsWith('up to date'),
    perHost: {
      roundTrips: hosts.reduce((a, h) => a + h.roundTrips, 0) / hosts.length,
      bytesSent: hosts.reduce((a, h) => a + h.bytesSent, 0) / hosts.length,
      bytesUploaded: hosts.reduce((a, h) => a + h.bytesUploaded, 0) / hosts.length,
    },
  };
  // per step: the facts script is one round trip per host of its own
  sample.perHost.roundTripsPerStep = (sample.perHost.roundTrips - 1) / steps;
  say(`engine ${label}: ${secs(r.wallMs)} (in process ${secs(stats.timings.totalMs)}), ${sample.perHost.roundTripsPerStep.toFixed(2)} round trips/host/step: ${sample.summary}`);
  return sample;
}

async function replaceIsBuilt() {
  const r = await run(cli('replace', '--help'));
  return r.code === 0 && !r.stdout.includes('not built yet');
}

async function main() {
  rmSync(path.join(BENCH_DIR, 'results', 'logs'), { recursive: true, force: true });
  await buildSnapshot();
  await waitForLoad();
  results.load.measureStart = os.loadavg();
  results.measureStartedAt = new Date().toISOString();
  const exportDir = path.join(work, 'export');

  // --- phase 1: fresh runs, alternating
  for (let i = 1; i <= F; i++) {
    let lab = await newLab(3, `t3-${i}`);
    results.fresh.tool3.push(await toolUp(lab, UNTIL_ALL, `fresh-3-${i}`));
    if (withAnsible && !existsSync(exportDir)) {
      await exportFiles(lab, exportDir);
      say(`exported the tool's files of ${lab.nodes.length} hosts for Ansible`);
    }
    if (withAnsible) {
      lab = await newLab(3, `a3-${i}`);
      const a = await ansible(lab, exportDir, `fresh-3-${i}`);
      results.fresh.ansible3.push(a);
      await closeMasters(a.controlDir);
    }
    lab = await newLab(6, `t6-${i}`);
    results.fresh.tool6.push(await toolUp(lab, UNTIL_ALL, `fresh-6-${i}`));
    if (i === F) {
      lab.cpu = await nodeCpu(lab);
      for (let j = 1; j <= R; j++) results.converged.tool6.push(await toolUp(lab, UNTIL_ALL, `converged-6-${j}`));
    }
  }

  // --- phase 2: converged on the same 3 nodes: the tool and Ansible alternate; engine benchmark; replace
  let lab = await newLab(3, 'c3');
  results.fresh.tool3.push(await toolUp(lab, UNTIL_ALL, 'fresh-3-c'));
  const sameNodes = path.join(work, 'export-c3');
  if (withAnsible) {
    await exportFiles(lab, sameNodes);
    const warm = await ansible(lab, sameNodes, 'warm-up-3');
    if (warm.changed !== 0) results.notes.push(`the first Ansible run on the nodes the tool provisioned changed ${warm.changed} things (expected 0)`);
  }
  lab.cpu = await nodeCpu(lab);
  for (let j = 1; j <= R; j++) {
    results.converged.tool3.push(await toolUp(lab, UNTIL_ALL, `converged-3-${j}`));
    results.converged.tool3etcd.push(await toolUp(lab, UNTIL_ETCD, `converged-3-etcd-${j}`));
    if (withAnsible) results.converged.ansible3.push(await ansible(lab, sameNodes, `converged-3-${j}`));
  }
  for (let j = 1; j <= R; j++) {
    for (const n of lab.nodes) await ssh(lab, n.address, ENGINE_CLEAN);
    results.engine.fresh.push(await engineRun(lab, `fresh-${j}`));
    results.engine.converged.push(await engineRun(lab, `converged-${j}`));
  }
  if (await replaceIsBuilt()) {
    // the hardware change: a wiped node with a new host key and machine-id, same name and address
    const node = lab.nodes[lab.nodes.length - 1].name;
    await mustRun(cli('lab', 'rebuild', node, '--name', NAMESPACE));
    const load = load1();
    const r = await run(cli('replace', lab.inventory, node, '--yes', '--quiet', '--until', 'etcd'));
    results.replace = { node, until: 'etcd', wallMs: r.wallMs, cpuS: r.cpuS, maxRssMiB: r.maxRssMiB, load, code: r.code, output: (r.stdout + r.stderr).trim().split('\n').slice(-6).join('\n') };
    say(`replace ${node} --until etcd: exit ${r.code}, ${secs(r.wallMs)}: ${results.replace.output.split('\n').pop()}`);
    if (r.code === 0) {
      try {
        const after = await toolUp(lab, UNTIL_ALL, 'after-replace');
        results.replace.afterUp = { wallMs: after.wallMs, summary: after.summary };
      } catch (e) {
        results.notes.push(`\`up\` after replace failed: ${String(e.message).split('\n')[0]}`);
      }
    }
  } else {
    results.replace = { built: false };
    say('replace: not built yet (the command is still a stub)');
  }

  // --- phase 3: 9 nodes
  lab = await newLab(9, 't9');
  results.fresh.tool9.push(await toolUp(lab, UNTIL_ALL, 'fresh-9'));
  lab.cpu = await nodeCpu(lab);
  for (let j = 1; j <= R; j++) results.converged.tool9.push(await toolUp(lab, UNTIL_ALL, `converged-9-${j}`));
}

let failed = null;
try {
  await main();
} catch (e) {
  failed = e;
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
} finally {
  say('taking the lab down');
  await cleanup();
}
results.finishedAt = new Date().toISOString();
results.load.end = os.loadavg();
if (failed) results.notes.push(`the run stopped early: ${String(failed.message ?? failed).split('\n')[0]}`);

const labResults = path.join(BENCH_DIR, 'lab-results.md');
const report = renderReport(results, existsSync(labResults) ? readFileSync(labResults, 'utf8') : null);
process.stdout.write('\n' + report + '\n');
if (!flag('--no-write')) {
  mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
  writeFileSync(path.join(BENCH_DIR, 'results', 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeBenchmarksMd(path.join(ROOT, 'BENCHMARKS.md'), report);
  say('wrote BENCHMARKS.md and bench/results/latest.json');
}
process.exitCode = failed ? 1 : 0;
