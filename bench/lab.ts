/**
 * Lab benchmark: image build cold and cached, `lab up` of 3 and 6 containers on a cached image, and
 * one VM boot. Writes bench/lab-results.md after every measurement (the lead folds it into
 * BENCHMARKS.md); rows an earlier run measured and this one did not (e.g. with --skip-cold) are kept.
 *
 *   sudo npx vite-node bench/lab.ts [--skip-cold] [--skip-vm]
 *
 * The cold build uses a throw-away cache directory (removed afterwards), so the real cache is not
 * touched. Each lab runs in its own namespace and subnet and is removed again. The machine may be
 * shared: the 1-minute load average is recorded next to each number.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureArtifacts } from '../src/lab/artifacts.js';
import { defaultCacheDir } from '../src/lab/config.js';
import { LocalRunner } from '../src/lab/exec.js';
import { ensureImage, ensureVmImage, hostArch } from '../src/lab/image.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { ensureRepo } from '../src/lab/repo.js';

interface Row {
  what: string;
  seconds: number;
  load: number;
  note: string;
}

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lab-results.md');
const rows: Row[] = [];
const args = process.argv.slice(2);
const load = () => os.loadavg()[0]!;

/** Rows of an earlier run (kept unless this run measures them again). */
async function earlierRows(): Promise<Row[]> {
  const text = await readFile(out, 'utf8').catch(() => '');
  const parsed: Row[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| (.+?) \| ([\d.]+) \| ([\d.]+) \| (.*?) \|$/.exec(line);
    if (m) parsed.push({ what: m[1]!, seconds: Number(m[2]), load: Number(m[3]), note: m[4]! });
  }
  return parsed;
}
const previous = await earlierRows();
/** Hand-written notes after a "## Notes" heading survive re-runs. */
const notes = await readFile(out, 'utf8').then(
  (t) => (t.includes('\n## Notes') ? t.slice(t.indexOf('\n## Notes') + 1) : ''),
  () => '',
);

async function writeResults(): Promise<void> {
  const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown cpu';
  const all = [...previous.filter((p) => !rows.some((r) => r.what === p.what)), ...rows];
  const md = [
    '# Lab benchmark results',
    '',
    `Measured with \`bench/lab.ts\` (\`sudo npx vite-node bench/lab.ts\`), last run ${new Date().toISOString()}, on ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, kernel ${os.release()}.`,
    'The machine is shared with other engineers running their own tests: "load" is the 1-minute load average during the',
    'measurement (2 cores: anything above 2 means waiting for CPU), so these numbers are upper bounds.',
    '',
    '| what | seconds | load | note |',
    '|---|---:|---:|---|',
    ...all.map((r) => `| ${r.what} | ${r.seconds.toFixed(1)} | ${r.load.toFixed(1)} | ${r.note} |`),
    '',
    ...(notes ? [notes] : []),
  ].join('\n');
  await writeFile(out, md);
}

async function measure<T>(what: string, fn: () => Promise<T>, note: (r: T) => string = () => ''): Promise<T> {
  const l = load();
  const t = Date.now();
  const r = await fn();
  const row = { what, seconds: (Date.now() - t) / 1000, load: Math.max(l, load()), note: note(r) };
  rows.push(row);
  console.log(`${row.what}: ${row.seconds.toFixed(1)} s (load ${row.load.toFixed(1)}) ${row.note}`);
  await writeResults();
  return r;
}

const say = (l: string) => console.log(`  lab: ${l}`);
const runner = new LocalRunner(path.join(os.tmpdir(), `kubi-bench-lab-${process.pid}.log`));
const cacheDir = defaultCacheDir();

if (!args.includes('--skip-cold')) {
  const cold = await mkdtemp(path.join(os.tmpdir(), 'kubi-bench-cache-'));
  try {
    const { image } = await measure('image build, cold (debootstrap + configure)', () => ensureImage(cold, runner, say), (r) => `image ${r.image.hash}`);
    await measure('vm disk build, cold (mkfs.ext4 -d + qcow2)', () => ensureVmImage(image, runner, say));
    await measure('package repository, cold', () => ensureRepo(cold, image, runner, say), (r) => `${r.debs.length} packages`);
    await measure('artifacts directory, cold', async () => ensureArtifacts(cold, await hostArch(runner), null, runner, say));
  } finally {
    await rm(cold, { recursive: true, force: true });
  }
}

const { image } = await measure('image, cached (hash check only)', () => ensureImage(cacheDir, runner, say), (r) => (r.built ? 'was built' : 'cache hit'));
await ensureVmImage(image, runner, say);
await ensureRepo(cacheDir, image, runner, say);

for (const [nodes, ns, subnet] of [
  [3, 'kubibench3', '10.140.0.0/24'],
  [6, 'kubibench6', '10.141.0.0/24'],
] as const) {
  try {
    await measure(
      `lab up --nodes ${nodes} (containers, cached image)`,
      () => labUp({ namespace: ns, subnet, nodes, inventoryPath: path.join(os.tmpdir(), `${ns}.yaml`) }, say),
      (u) => `nodes started in ${(u.timings.nodesStart! / 1000).toFixed(1)} s, all answering ssh ${(u.timings.sshWait! / 1000).toFixed(1)} s later`,
    );
  } finally {
    await measure(`lab down (${nodes} containers)`, () => labDown({ namespace: ns }, say));
  }
}

if (!args.includes('--skip-vm')) {
  const ns = 'kubibenchvm';
  try {
    await measure(
      'lab up --backend vm --nodes 1 (one VM boot until ssh)',
      () => labUp({ namespace: ns, subnet: '10.142.0.0/24', nodes: 1, backend: 'vm', inventoryPath: path.join(os.tmpdir(), `${ns}.yaml`) }, say),
      (u) => `${u.accel?.accel ?? '?'}; boot until ssh ${(u.timings.sshWait! / 1000).toFixed(1)} s`,
    );
  } finally {
    await measure('lab down (1 VM)', () => labDown({ namespace: ns }, say));
  }
}
console.log(`wrote ${out}`);
