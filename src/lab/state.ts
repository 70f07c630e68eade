/**
 * The lab state file (`<stateDir>/state.json`, 0600, written atomically after every change): what
 * the lab created (namespace, interfaces, nodes with their PIDs, the repository server) so that
 * `lab down` can remove all of it even after a crash. It is written BEFORE each resource is created,
 * so a crash can only leave a recorded intent behind, never an unrecorded resource.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Backend } from './config.js';

export interface NodeState {
  name: string;
  /** offset in the subnet (11 -> .11) */
  offset: number;
  address: string;
  mac: string;
  backend: Backend;
  /** per-node directory under the state dir */
  dir: string;
  /** container: init PID; vm: qemu PID */
  pid?: number;
  /** container: the `[lxc monitor]` PID */
  monitorPid?: number;
  /** vm: tap device inside the namespace */
  tap?: string;
  /** bumped by `lab rebuild` */
  generation: number;
}

export interface LabState {
  version: 1;
  namespace: string;
  subnet: string;
  backend: Backend;
  stateDir: string;
  cacheDir: string;
  createdAt: string;
  phase: 'creating' | 'up' | 'down';
  imageHash?: string;
  artifactsDir?: string;
  repoDir?: string;
  repoUrl?: string;
  keyPath: string;
  inventoryPath: string;
  httpServer?: { pid: number; url: string };
  vm?: { memoryMiB: number; cpus: number; accel: 'kvm' | 'tcg' };
  nodes: NodeState[];
}

export function stateFile(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

export function readState(stateDir: string): LabState | null {
  const f = stateFile(stateDir);
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as LabState;
    if (s.version !== 1 || !Array.isArray(s.nodes)) throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new KubiError('lab-state', `the lab state file ${f} is unreadable`, {
      hint: 'run `kubi-provision lab down` (it also cleans up without a state file)',
      cause: e,
    });
  }
}

const queues = new Map<string, Promise<void>>();

/**
 * Write the state file. Writes of one state dir run one after another and each serialises the
 * state when its turn comes, so concurrent callers (nodes starting in parallel) never let an older
 * snapshot land last.
 */
export function writeState(state: LabState): Promise<void> {
  const file = stateFile(state.stateDir);
  const next = (queues.get(file) ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o600, { parentDirMode: 0o700 }));
  queues.set(file, next);
  return next;
}

/** MAC address of a node: locally administered, stable per offset and generation. */
export function nodeMac(backend: Backend, offset: number, generation: number): string {
  const kind = backend === 'vm' ? 0x00 : 0x01;
  const hex = (n: number) => (n & 255).toString(16).padStart(2, '0');
  return ['52', '54', '77', hex(kind), hex(generation), hex(offset)].join(':');
}
