/**
 * Test harness: a real lab (LXC containers, or QEMU VMs with backend 'vm') for *.hosts.test.ts.
 *
 *   const lab = await startLab({ nodes: 3, namespace: 'kubiletcd', subnet: '10.81.0.0/24' });
 *   ... lab.inventoryPath, lab.nodes, lab.keyPath ...
 *   await lab.down();   // in afterAll, always
 *
 * Needs root. Use a namespace name and subnet of your own per test file, so test files and a
 * developer's own `kubi-provision lab up` (kubilab, 10.77.0.0/24) never collide. The first run
 * builds the cached image (~2 min); later runs start 3 containers in a few seconds.
 * `leftovers()` lists anything of the lab still present after `down()` (for assertions).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp, type LabUpResult } from '../../src/lab/lab.js';
import { hostVethName } from '../../src/lab/config.js';
import { isAlive } from '../../src/lab/procs.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { sshArgv } from '../../src/lab/ssh.js';

export interface StartLabOptions {
  nodes?: number;
  backend?: 'container' | 'vm';
  namespace?: string;
  subnet?: string;
  /** default: <os tmpdir>/kubi-lab-<namespace>/lab.yaml */
  inventoryPath?: string;
  vmMemoryMiB?: number;
  vmCpus?: number;
  k3sBinary?: string;
  log?: (line: string) => void;
}

export interface LabHandle {
  namespace: string;
  stateDir: string;
  inventoryPath: string;
  keyPath: string;
  backend: 'container' | 'vm';
  nodes: { name: string; address: string }[];
  result: LabUpResult;
  /** every PID the lab recorded (node inits/monitors, qemu, repo server) */
  pids(): number[];
  /** run a command on a node with the system ssh client (root unless user given) */
  ssh(node: string, command: string, user?: string): string;
  down(): Promise<void>;
}

export function recordedPids(state: LabState | null): number[] {
  if (!state) return [];
  const pids = state.nodes.flatMap((n) => [n.pid, n.monitorPid]).filter((p): p is number => typeof p === 'number');
  if (state.httpServer) pids.push(state.httpServer.pid);
  return pids;
}

export async function startLab(opts: StartLabOptions = {}): Promise<LabHandle> {
  const namespace = opts.namespace ?? 'kubilabtest';
  const inventoryPath = opts.inventoryPath ?? path.join(os.tmpdir(), `kubi-lab-${namespace}`, 'lab.yaml');
  const result = await labUp(
    {
      namespace,
      nodes: opts.nodes ?? 3,
      backend: opts.backend ?? 'container',
      inventoryPath,
      ...(opts.subnet ? { subnet: opts.subnet } : {}),
      ...(opts.vmMemoryMiB ? { vmMemoryMiB: opts.vmMemoryMiB } : {}),
      ...(opts.vmCpus ? { vmCpus: opts.vmCpus } : {}),
      ...(opts.k3sBinary ? { k3sBinary: opts.k3sBinary } : {}),
    },
    opts.log ?? (() => undefined),
  );
  const stateDir = result.state.stateDir;
  let pidsSeen = recordedPids(result.state);
  const pids = () => {
    pidsSeen = [...new Set([...pidsSeen, ...recordedPids(readState(stateDir))])];
    return pidsSeen;
  };
  return {
    namespace,
    stateDir,
    inventoryPath: result.inventoryPath,
    keyPath: result.state.keyPath,
    backend: result.state.backend,
    nodes: result.state.nodes.map((n) => ({ name: n.name, address: n.address })),
    result,
    pids,
    ssh(node, command, user = 'root') {
      const state = readState(stateDir);
      const n = state?.nodes.find((x) => x.name === node);
      if (!n) throw new Error(`no lab node ${node}`);
      const argv = sshArgv(result.state.keyPath, user, n.address, [command]);
      return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
    },
    async down() {
      pids();
      await labDown({ namespace, stateDir });
    },
  };
}

/** What of a lab is still present: namespace, interface, live processes, mounts, files. Empty when clean. */
export function leftovers(namespace: string, stateDir: string, pids: readonly number[], bridgeAddress = '10.77.0.1'): string[] {
  const out: string[] = [];
  if (existsSync(`/run/netns/${namespace}`)) out.push(`namespace ${namespace}`);
  const ifaces = readdirSync('/sys/class/net');
  if (ifaces.includes(hostVethName(namespace))) out.push(`interface ${hostVethName(namespace)}`);
  for (const pid of pids) if (isAlive(pid)) out.push(`process ${pid} (recorded by the lab) is alive`);
  // by listing: any live lxc monitor, qemu or repo server that belongs to this lab
  const ps = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  for (const line of ps.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m || m[2]!.startsWith('Z')) continue;
    const args = m[3]!;
    if ((args.includes('[lxc monitor]') || args.includes('qemu-system') || args.includes('lxc-start')) && args.includes(stateDir)) out.push(`process ${m[1]}: ${args.slice(0, 120)}`);
    if (args.includes('kubi-lab-repo-server') && args.includes(` ${bridgeAddress} `)) out.push(`process ${m[1]}: repo server on ${bridgeAddress}`);
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(stateDir) || mp === `/run/netns/${namespace}`);
  for (const mp of mounts) out.push(`mount ${mp}`);
  if (existsSync(path.join(stateDir, 'state.json'))) out.push(`state file ${path.join(stateDir, 'state.json')}`);
  for (const d of ['ct', 'vm']) {
    const p = path.join(stateDir, d);
    if (existsSync(p) && readdirSync(p).length > 0) out.push(`node directories in ${p}`);
  }
  return out;
}
