// Bench helpers around the lab and the CLI under test: `lab up/down/rebuild` in the bench's own
// namespace and subnet (so concurrent labs of other engineers never collide), the lab inventory,
// and ssh to a node with the system client (only for the bench's own setup, never measured).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { mustRun, run } from './proc.mjs';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** the snapshot of the CLI the bench measures (bench/run.mjs builds it: other engineers rebuilding dist/ cannot disturb a run) */
export const CLI = path.join(BENCH_DIR, '.build', 'bin', 'kubi-provision.js');
export const NAMESPACE = process.env.KUBI_BENCH_LAB ?? 'kubibn';
export const SUBNET = process.env.KUBI_BENCH_SUBNET ?? '10.211.0.0/24';

export function cli(...args) {
  return ['node', CLI, ...args];
}

/** Remove the bench lab (idempotent). */
export async function labDown() {
  return run(cli('lab', 'down', '--name', NAMESPACE));
}

/** A new lab of `nodes` containers (any previous bench lab removed first); its inventory is written to `<dir>/lab.yaml` (state dir `<dir>/.kubi/lab`). */
export async function labUp(nodes, dir) {
  await labDown();
  const inventory = path.join(dir, 'lab.yaml');
  const r = await mustRun(cli('lab', 'up', '--name', NAMESPACE, '--subnet', SUBNET, '--nodes', String(nodes), '--inventory', inventory));
  return { ...readLab(inventory), wallMs: r.wallMs };
}

/** Inventory facts the bench needs: nodes (name, address, user, sudo), the ssh key, the state dir. */
export function readLab(inventory) {
  const doc = YAML.parse(readFileSync(inventory, 'utf8'));
  const dir = path.dirname(inventory);
  return {
    inventory,
    keyPath: doc.ssh.privateKey,
    stateDir: path.resolve(dir, doc.cluster.stateDir),
    nodes: doc.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles, user: h.ssh?.user ?? doc.ssh.user ?? 'root', sudo: h.ssh?.sudo === true })),
  };
}

export function sshArgv(lab, address, command) {
  return ['ssh', '-i', lab.keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${address}`, command];
}

/** Run a shell line as root on a lab node (setup and cleanup only). */
export async function ssh(lab, address, command) {
  return mustRun(sshArgv(lab, address, command));
}

/**
 * CPU time used by the lab's node containers, from their cgroups (found through each
 * container's init pid): what the host-side work of a run costs. The nodes share this machine's
 * cores with the tool, so on the lab this is wall time too. Returns null when the cgroup
 * accounting cannot be read (then the report says "not measured").
 */
export async function nodeCpu(lab) {
  const lxcpath = path.join('/var/lib/kubi-provision/lab', NAMESPACE, 'ct');
  const files = [];
  for (const n of lab.nodes) {
    const r = await run(['ip', 'netns', 'exec', NAMESPACE, 'lxc-info', '-P', lxcpath, '-n', n.name, '-p', '-H']);
    const pid = r.stdout.trim();
    if (r.code !== 0 || !/^\d+$/.test(pid)) return null;
    let cgroups;
    try {
      cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return null;
    }
    const v1 = /^\d+:[^:\n]*\bcpuacct\b[^:\n]*:(\S+)$/m.exec(cgroups);
    const v2 = /^0::(\S+)$/m.exec(cgroups);
    if (v1) files.push({ file: `/sys/fs/cgroup/cpuacct${v1[1]}/cpuacct.usage`, v2: false });
    else if (v2) files.push({ file: `/sys/fs/cgroup${v2[1].replace(/\/init\.scope$/, '')}/cpu.stat`, v2: true });
    else return null;
  }
  const read = () => {
    let seconds = 0;
    for (const f of files) {
      const text = readFileSync(f.file, 'utf8');
      seconds += f.v2 ? Number(/^usage_usec (\d+)$/m.exec(text)?.[1] ?? NaN) / 1e6 : Number(text.trim()) / 1e9;
    }
    return seconds;
  };
  try {
    if (!Number.isFinite(read())) return null;
  } catch {
    return null;
  }
  // the background of idle nodes (etcd heartbeats, containerd): measured now, subtracted per run
  const t0 = Date.now();
  const c0 = read();
  await new Promise((r) => setTimeout(r, 2000));
  const idlePerS = (read() - c0) / ((Date.now() - t0) / 1000);
  return { read, idlePerS };
}
