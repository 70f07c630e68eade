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
