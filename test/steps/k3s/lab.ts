/**
 * Helpers for the lab tests of containerd, CNI, keepalived and k3s (test/e2e/*.hosts.test.ts):
 * run the CLI (`lab up`, `plan`, `up`, `kubeconfig`) as a child process, ssh to the nodes with the
 * lab's key, and read the cluster's state directory. Each test file uses its own lab name and
 * subnet so files never collide with each other or with a developer's `kubilab`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { sshArgv } from '../../../src/lab/ssh.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const KUBI_CLI = path.join(ROOT, 'test/steps/k3s/kubi-cli.mjs');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI (async, so vitest's timers keep running); never throws on a non-zero exit. */
export function kubi(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    delete env.FORCE_COLOR;
    env.NO_COLOR = '1';
    const child = spawn(process.execPath, [KUBI_CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 20 * 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export interface LabNode {
  name: string;
  address: string;
  roles: string[];
}

export interface TestLab {
  name: string;
  dir: string;
  inventory: string;
  /** the cluster's state directory (.kubi/lab beside the inventory) */
  stateDir: string;
  keyPath: string;
  artifactsDir: string;
  vip: string;
  nodes: LabNode[];
  node(name: string): LabNode;
  /** run a shell line on a node as root; throws on a non-zero exit */
  ssh(node: string, command: string, stdin?: string): string;
  /** the same, never throws */
  sshResult(node: string, command: string, stdin?: string): { status: number; stdout: string; stderr: string };
  down(): Promise<CliRun>;
}

export async function labUp(opts: { name: string; subnet: string; nodes: number; k3sBinary?: string }): Promise<TestLab> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `kubi-${opts.name}-`));
  const inventory = path.join(dir, 'lab.yaml');
  const args = ['lab', 'up', '--name', opts.name, '--subnet', opts.subnet, '--nodes', String(opts.nodes), '--inventory', inventory];
  if (opts.k3sBinary) args.push('--k3s-binary', opts.k3sBinary);
  let r = await kubi(args, { env: { KUBI_K3S_BINARY: '' } });
  if (r.status !== 0 && /lxc-info reports no init pid/.test(r.stderr)) {
    // a start race of the lab's LXC backend under load (reported to the lab's owner): one clean retry
    await kubi(['lab', 'down', '--name', opts.name]);
    r = await kubi(args, { env: { KUBI_K3S_BINARY: '' } });
  }
  if (r.status !== 0) {
    await kubi(['lab', 'down', '--name', opts.name]);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`lab up failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const inv = parse(readFileSync(inventory, 'utf8')) as {
    ssh: { privateKey: string };
    artifacts: { dir: string };
    endpoint: { vip: string };
    hosts: { name: string; address: string; roles: string[] }[];
  };
  const nodes = inv.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles }));
  const keyPath = inv.ssh.privateKey;
  const node = (name: string): LabNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no lab node ${name}`);
    return n;
  };
  const sshResult = (name: string, command: string, stdin?: string) => {
    const argv = sshArgv(keyPath, 'root', node(name).address, [command]);
    try {
      const stdout = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: stdin ?? '', timeout: 180_000, stdio: ['pipe', 'pipe', 'pipe'] });
      return { status: 0, stdout, stderr: '' };
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      return { status: err.status ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  };
  return {
    name: opts.name,
    dir,
    inventory,
    stateDir: path.join(dir, '.kubi', 'lab'),
    keyPath,
    artifactsDir: inv.artifacts.dir,
    vip: inv.endpoint.vip,
    nodes,
    node,
    sshResult,
    ssh(name, command, stdin) {
      const r = sshResult(name, command, stdin);
      if (r.status !== 0) throw new Error(`ssh ${name} ${JSON.stringify(command)} exited ${r.status}: ${r.stderr || r.stdout}`);
      return r.stdout;
    },
    async down() {
      const r = await kubi(['lab', 'down', '--name', opts.name]);
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}

/** Upload a local file to a node (scp with the lab key). */
export function upload(lab: TestLab, node: string, local: string, remote: string): void {
  execFileSync('scp', ['-q', '-i', lab.keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', local, `root@${lab.node(node).address}:${remote}`], {
    timeout: 120_000,
  });
}

/** The pod subnet allocation `up` saved in the state directory. */
export function savedSubnets(lab: TestLab): Record<string, string> {
  return (JSON.parse(readFileSync(path.join(lab.stateDir, 'pod-subnets.json'), 'utf8')) as { subnets: Record<string, string> }).subnets;
}

/** Is `ip` inside `cidr` (IPv4)? */
export function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, p) => n * 256 + Number(p), 0);
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base!) / size);
}
