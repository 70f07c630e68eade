/**
 * What a lab backend (LXC containers, QEMU VMs) implements, and the context it gets.
 * A node is prepared from a clean slate (`prepare`: a fresh writable layer / disk overlay with its
 * identity), started, and stopped by its recorded PIDs; `wipe` deletes everything of the node.
 */
import type { LabConfig } from './config.js';
import type { LocalRunner } from './exec.js';
import type { LabImage, VmImage } from './image.js';
import type { LabState, NodeState } from './state.js';

export interface LabContext {
  cfg: LabConfig;
  state: LabState;
  runner: LocalRunner;
  image: LabImage;
  vmImage?: VmImage;
  /** the lab's OpenSSH public key line */
  publicKey: string;
  /** the local package repository, e.g. http://10.77.0.1:8080/ */
  repoUrl: string;
  say(line: string): void;
}

export interface NodeBackend {
  /** create the node's writable layer (or disk overlay) and per-node files; the node is stopped */
  prepare(node: NodeState, ctx: LabContext): Promise<void>;
  /** start it; records PIDs on `node` */
  start(node: NodeState, ctx: LabContext): Promise<void>;
  /** stop it by its recorded PIDs (idempotent, works on partial state) */
  stop(node: NodeState, ctx: Pick<LabContext, 'state' | 'runner'>): Promise<void>;
  /** is it running (by PID, with a command-line check)? */
  isRunning(node: NodeState, state: LabState): boolean;
  /** how long to wait for ssh after start */
  sshTimeoutMs: number;
}

/** The one apt source line of every node: the lab's local repository. */
export function aptSourceLine(repoUrl: string): string {
  return `deb [trusted=yes] ${repoUrl} ./\n`;
}
