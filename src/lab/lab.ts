/**
 * The lab's lifecycle: `up`, `down`, `status`, `rebuild` (and the argv of `lab ssh`).
 *
 * up: prerequisites -> cached image, package repository and artifacts -> key pair -> network ->
 * repository server -> nodes (prepared, started, waited for over ssh) -> inventories/lab.yaml.
 * The state file is written before each resource is made, and `down` removes everything it names
 * plus whatever it finds in the lab's directories and namespace, so it is idempotent and works after
 * a crash. Progress goes to a `say` callback (the CLI prints it); nothing here prints or exits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { ensureDir } from '../fs-atomic.js';
import { ARTIFACT_DEBS, ensureArtifacts, type LabVersions } from './artifacts.js';
import type { LabContext, NodeBackend } from './backend.js';
import { containerBackend, lxcPath } from './container.js';
import { addressAt, hostVethName, initialOffsets, nextFreeOffset, nodeName, REPO_PORT, resolveConfig, type Backend, type LabConfig, type LabOptions } from './config.js';
import { LocalRunner, pasteable } from './exec.js';
import { mountsUnder, removeTree } from './fsutil.js';
import { canConnect, repoServerRunning, SERVER_MARKER, startRepoServer, stopRepoServer } from './http-server.js';
import { imageRecipe, TOOL_INSTALLED_PACKAGES } from './image-recipe.js';
import { ensureImage, ensureVmImage, hostArch, type LabImage, type VmImage } from './image.js';
import { buildLabInventory, updateInventoryAddress, writeLabInventory } from './inventory.js';
import { netnsExists, netnsPath, networkDown, networkUp } from './network.js';
import { ensurePrerequisites, requireRoot } from './prereqs.js';
import { findProcesses, isAlive, processArgv, stopProcess } from './procs.js';
import { candidateVersions, ensureRepo } from './repo.js';
import { ensureKeyPair, labKeyPath, sshArgv, waitForSsh } from './ssh.js';
import { nodeMac, readState, stateFile, writeState, type LabState, type NodeState } from './state.js';
import { detectAccel, vmBackend, type AccelChoice } from './vm.js';

export type Say = (line: string) => void;

export const INVENTORY_MARKER = 'Written by `kubi-provision lab up`';

export function backendOf(b: Backend): NodeBackend {
  return b === 'vm' ? vmBackend : containerBackend;
}

function nodeDir(stateDir: string, backend: Backend, name: string): string {
  // LXC finds a container's config at <lxcpath>/<name>/config
  return backend === 'vm' ? path.join(stateDir, 'vm', name) : path.join(lxcPath(stateDir), name);
}

function runnerFor(stateDir: string): LocalRunner {
  return new LocalRunner(path.join(stateDir, 'logs', 'lab.log'));
}

export interface LabUpResult {
  state: LabState;
  inventoryPath: string;
  reused: boolean;
  timings: Record<string, number>;
  accel: AccelChoice | null;
  built: { image: boolean; vmImage: boolean; repo: boolean; artifacts: boolean };
}

async function timed<T>(timings: Record<string, number>, key: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings[key] = Date.now() - t;
  }
}

/** Is the recorded lab complete and running as `cfg` asks? */
function isReusable(state: LabState, cfg: LabConfig): boolean {
  if (state.phase !== 'up' || state.backend !== cfg.backend || state.nodes.length !== cfg.nodes || state.subnet !== cfg.subnet.cidr) return false;
  if (!netnsExists(state.namespace) || !state.repoDir || !repoServerRunning(state.httpServer?.pid, state.repoDir)) return false;
  const backend = backendOf(state.backend);
  return state.nodes.every((n) => backend.isRunning(n, state));
}

export async function labUp(opts: LabOptions, say: Say = () => undefined): Promise<LabUpResult> {
  requireRoot('kubi-provision lab up');
  const cfg = resolveConfig(opts);
  const timings: Record<string, number> = {};
  const started = Date.now();
  await ensureDir(cfg.stateDir, 0o700);
  const runner = runnerFor(cfg.stateDir);
  runner.log(`=== lab up ${JSON.stringify({ ...cfg, subnet: cfg.subnet.cidr })}`);

  const previous = readState(cfg.stateDir);
  if (previous && isReusable(previous, cfg)) {
    say(`lab ${cfg.namespace} is already up (${previous.nodes.length} ${previous.backend} nodes); rewriting ${previous.inventoryPath}`);
    await writeInventoryFor(previous, cfg);
    return { state: previous, inventoryPath: cfg.inventoryPath, reused: true, timings: { total: Date.now() - started }, accel: null, built: { image: false, vmImage: false, repo: false, artifacts: false } };
  }
  if (previous || netnsExists(cfg.namespace)) {
    say(`removing the previous lab ${cfg.namespace} first`);
    await labDown({ namespace: cfg.namespace, stateDir: cfg.stateDir, keepInventory: true }, say);
  }

  await timed(timings, 'prerequisites', () => ensurePrerequisites(cfg.backend, runner, { install: cfg.install, say }));
  const arch = await hostArch(runner);
  const { image, built: imageBuilt } = await timed(timings, 'image', () => ensureImage(cfg.cacheDir, runner, say));
  let vmImage: VmImage | undefined;
  let vmBuilt = false;
  if (cfg.backend === 'vm') {
    const r = await timed(timings, 'vmImage', () => ensureVmImage(image, runner, say));
    vmImage = r.vm;
    vmBuilt = r.built;
  }
  // one apt-cache call for every package the repository and the artifacts need
  await timed(timings, 'aptVersions', () => candidateVersions([...TOOL_INSTALLED_PACKAGES, ...ARTIFACT_DEBS], runner, cfg.cacheDir));
  const repo = await timed(timings, 'repo', () => ensureRepo(cfg.cacheDir, image, runner, say));
  const artifacts = await timed(timings, 'artifacts', () => ensureArtifacts(cfg.cacheDir, arch, cfg.k3sBinary, runner, say));
  const keyPath = labKeyPath(cfg.stateDir);
  await ensureKeyPair(keyPath, runner);
  const publicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();

  const accel = cfg.backend === 'vm' ? detectAccel() : null;
  if (accel) say(`vm backend: ${accel.reason}`);
  const repoUrl = `http://${cfg.subnet.bridgeAddress}:${REPO_PORT}/`;
  const state: LabState = {
    version: 1,
    namespace: cfg.namespace,
    subnet: cfg.subnet.cidr,
    backend: cfg.backend,
    stateDir: cfg.stateDir,
    cacheDir: cfg.cacheDir,
    createdAt: new Date().toISOString(),
    phase: 'creating',
    imageHash: image.hash,
    artifactsDir: artifacts.dir,
    repoDir: repo.dir,
    repoUrl,
    keyPath,
    inventoryPath: cfg.inventoryPath,
    ...(accel ? { vm: { memoryMiB: cfg.vmMemoryMiB, cpus: cfg.vmCpus, accel: accel.accel } } : {}),
    nodes: [],
  };
  await writeState(state);

  try {
    await timed(timings, 'network', () => networkUp(cfg.namespace, cfg.subnet, runner));
    const server = await timed(timings, 'repoServer', () =>
      startRepoServer({ netns: cfg.namespace, bind: cfg.subnet.bridgeAddress, port: REPO_PORT, repoDir: repo.dir, artifactsDir: artifacts.dir, logFile: path.join(cfg.stateDir, 'logs', 'repo-server.log'), pidFile: path.join(cfg.stateDir, 'repo-server.pid') }),
    );
    state.httpServer = server;
    await writeState(state);

    const ctx: LabContext = { cfg, state, runner, image, ...(vmImage ? { vmImage } : {}), publicKey, repoUrl, say };
    const backend = backendOf(cfg.backend);
    for (const [i, offset] of initialOffsets(cfg.nodes).entries()) {
      const name = nodeName(i + 1);
      state.nodes.push({ name, offset, address: addressAt(cfg.subnet, offset), mac: nodeMac(cfg.backend, offset, 0), backend: cfg.backend, dir: nodeDir(cfg.stateDir, cfg.backend, name), generation: 0 });
    }
    await writeState(state);
    say(`starting ${cfg.nodes} ${cfg.backend === 'vm' ? `VM${cfg.nodes > 1 ? 's' : ''}` : `container${cfg.nodes > 1 ? 's' : ''}`} on ${cfg.subnet.cidr} (namespace ${cfg.namespace})`);
    await timed(timings, 'nodesStart', async () => {
      await Promise.all(state.nodes.map((n) => backend.prepare(n, ctx)));
      await Promise.all(
        state.nodes.map(async (n) => {
          await backend.start(n, ctx);
          await writeState(state);
        }),
      );
    });
    await timed(timings, 'sshWait', () => Promise.all(state.nodes.map((n) => waitForNode(n, state, runner, backend))));
    state.phase = 'up';
    await writeState(state);
    await writeInventoryFor(state, cfg, artifacts.versions, true);
  } catch (e) {
    runner.log(`lab up failed: ${e instanceof Error ? e.message : String(e)}`);
    say(`lab up failed; the partial lab is left for inspection (logs and node consoles in ${cfg.stateDir}); remove it with: kubi-provision lab down --name ${cfg.namespace}`);
    throw e instanceof KubiError
      ? e
      : new KubiError('lab-up', `lab up failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  timings.total = Date.now() - started;
  say(`lab ${cfg.namespace} is up: ${state.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}; inventory ${cfg.inventoryPath}`);
  return { state, inventoryPath: cfg.inventoryPath, reused: false, timings, accel, built: { image: imageBuilt, vmImage: vmBuilt, repo: repo.built, artifacts: artifacts.built } };
}

function waitForNode(node: NodeState, state: LabState, runner: LocalRunner, backend: NodeBackend): Promise<number> {
  return waitForSsh(runner, {
    node: node.name,
    address: node.address,
    keyPath: state.keyPath,
    timeoutMs: backend.sshTimeoutMs,
    giveUp: () => (backend.isRunning(node, state) ? null : `the ${node.backend === 'vm' ? 'VM' : 'container'} is no longer running (see ${node.dir})`),
  });
}

async function writeInventoryFor(state: LabState, cfg: LabConfig, versions?: LabVersions, fresh = false): Promise<void> {
  const v = versions ?? (JSON.parse(readFileSync(path.join(state.artifactsDir!, 'versions.json'), 'utf8')) as { versions: LabVersions }).versions;
  const inv = buildLabInventory({
    backend: state.backend,
    nodes: state.nodes,
    vip: cfg.subnet.vip,
    keyPath: state.keyPath,
    artifactsDir: state.artifactsDir!,
    versions: v,
  });
  await writeLabInventory(cfg.inventoryPath, inv, state.backend);
  state.inventoryPath = cfg.inventoryPath;
  await writeState(state);
  if (fresh) {
    // fresh nodes have fresh host keys: a previous lab cluster's known_hosts would refuse them
    await rm(path.join(path.dirname(cfg.inventoryPath), '.kubi', 'lab', 'known_hosts'), { force: true });
  }
}

export interface LabDownOptions {
  namespace?: string;
  stateDir?: string;
  /** keep inventories/lab.yaml and its cluster state (used when up recreates the lab) */
  keepInventory?: boolean;
}

export interface LabDownResult {
  stopped: string[];
  removed: string[];
  /** processes found in the lab namespace that the lab did not start (reported, never killed) */
  foreign: number[];
}

/** Processes whose network namespace is the lab's (by namespace inode). */
export function processesInNetns(nsFile: string): number[] {
  let ino: number;
  try {
    ino = statSync(nsFile).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (statSync(`/proc/${d}/ns/net`).ino === ino) out.push(Number(d));
    } catch {
      /* gone or kernel thread */
    }
  }
  return out;
}

export async function labDown(opts: LabDownOptions = {}, say: Say = () => undefined): Promise<LabDownResult> {
  requireRoot('kubi-provision lab down');
  const cfg = resolveConfig({ ...(opts.namespace ? { namespace: opts.namespace } : {}), ...(opts.stateDir ? { stateDir: opts.stateDir } : {}) });
  const stateDir = cfg.stateDir;
  const ns = cfg.namespace;
  const result: LabDownResult = { stopped: [], removed: [], foreign: [] };
  if (!existsSync(stateDir) && !netnsExists(ns)) return result;
  const runner = runnerFor(stateDir);
  runner.log('=== lab down');
  let state: LabState | null = null;
  try {
    state = readState(stateDir);
  } catch (e) {
    say(`the lab state file is unreadable; cleaning up by scanning (${e instanceof Error ? e.message : String(e)})`);
  }
  const base: LabState = state ?? {
    version: 1, namespace: ns, subnet: cfg.subnet.cidr, backend: 'container', stateDir, cacheDir: cfg.cacheDir,
    createdAt: '', phase: 'down', keyPath: labKeyPath(stateDir), inventoryPath: cfg.inventoryPath, nodes: [],
  };
  if (state) {
    state.phase = 'down';
    await writeState(state).catch(() => undefined);
  }

  // nodes: recorded ones plus any node directory a crash left unrecorded
  const nodes = [...base.nodes];
  for (const backend of ['container', 'vm'] as const) {
    const dir = backend === 'vm' ? path.join(stateDir, 'vm') : lxcPath(stateDir);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (nodes.some((n) => n.name === name && n.backend === backend)) continue;
      nodes.push({ name, offset: 0, address: '', mac: '', backend, dir: path.join(dir, name), generation: 0, ...(backend === 'vm' ? { tap: `tap-${name}`.slice(0, 15) } : {}) });
    }
  }
  for (const n of nodes) {
    const backend = backendOf(n.backend);
    const wasRunning = backend.isRunning(n, base) || !!n.pid;
    await backend.stop(n, { state: base, runner });
    if (wasRunning) result.stopped.push(n.name);
  }

  // the repository server: by recorded PID, or any of ours in the lab namespace
  if (base.httpServer && base.repoDir) {
    if (repoServerRunning(base.httpServer.pid, base.repoDir)) result.stopped.push(`repo server (pid ${base.httpServer.pid})`);
    await stopRepoServer(base.httpServer.pid, base.repoDir);
  }
  const pidFile = path.join(stateDir, 'repo-server.pid');
  if (!base.httpServer && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (processArgv(pid)?.join(' ').includes(SERVER_MARKER)) {
      await stopProcess(pid, [SERVER_MARKER]);
      result.stopped.push(`repo server (pid ${pid})`);
    }
  }
  const nsFile = netnsPath(ns);
  for (const pid of processesInNetns(nsFile)) {
    const argv = processArgv(pid)?.join(' ') ?? '';
    if (argv.includes(SERVER_MARKER) || (argv.includes('qemu-system') && argv.includes(stateDir)) || (argv.includes('[lxc monitor]') && argv.includes(stateDir))) {
      await stopProcess(pid, [argv.includes(SERVER_MARKER) ? SERVER_MARKER : stateDir]);
      result.stopped.push(`pid ${pid}`);
    } else if (isAlive(pid)) {
      result.foreign.push(pid);
    }
  }
  if (result.foreign.length) say(`processes the lab did not start are still in namespace ${ns}: ${result.foreign.join(', ')} (not killed)`);

  if (netnsExists(ns)) result.removed.push(`namespace ${ns}`);
  await networkDown(ns, runner);
  if (existsSync(`/sys/class/net/${hostVethName(ns)}`)) throw new KubiError('lab-down', `interface ${hostVethName(ns)} is still there`);

  for (const n of nodes) {
    if (existsSync(n.dir)) {
      await removeTree(n.dir, runner);
      result.removed.push(n.dir);
    }
  }
  for (const d of [lxcPath(stateDir), path.join(stateDir, 'vm'), path.join(stateDir, 'hooks')]) await removeTree(d, runner);
  const left = mountsUnder(stateDir);
  if (left.length) throw new KubiError('lab-down', `mounts are left under ${stateDir}: ${left.join(', ')}`);
  // everything but the logs (kept for a look after a failure); a new `lab up` makes a new key pair
  for (const f of readdirSync(stateDir)) {
    if (f === 'logs') continue;
    await rm(path.join(stateDir, f), { recursive: true, force: true });
  }

  if (!opts.keepInventory) {
    const inv = base.inventoryPath;
    if (existsSync(inv) && readFileSync(inv, 'utf8').includes(INVENTORY_MARKER)) {
      await rm(inv, { force: true });
      result.removed.push(inv);
      const clusterState = path.join(path.dirname(inv), '.kubi', 'lab');
      if (existsSync(clusterState)) {
        await rm(clusterState, { recursive: true, force: true });
        result.removed.push(clusterState);
      }
    }
  }
  say(`lab ${ns} is down${result.stopped.length ? ` (stopped ${result.stopped.join(', ')})` : ''}`);
  return result;
}

export interface NodeStatus {
  name: string;
  address: string;
  backend: Backend;
  running: boolean;
  ssh: boolean;
  pid?: number;
  generation: number;
}

export interface LabStatus {
  namespace: string;
  exists: boolean;
  phase?: LabState['phase'];
  backend?: Backend;
  subnet?: string;
  namespacePresent: boolean;
  repoServer?: { url: string; running: boolean };
  inventoryPath?: string;
  keyPath?: string;
  nodes: NodeStatus[];
}

export async function labStatus(opts: { namespace?: string; stateDir?: string } = {}): Promise<LabStatus> {
  const cfg = resolveConfig(opts);
  const state = readState(cfg.stateDir);
  const status: LabStatus = { namespace: cfg.namespace, exists: !!state, namespacePresent: netnsExists(cfg.namespace), nodes: [] };
  if (!state) return status;
  status.phase = state.phase;
  status.backend = state.backend;
  status.subnet = state.subnet;
  status.inventoryPath = state.inventoryPath;
  status.keyPath = state.keyPath;
  if (state.httpServer && state.repoDir) status.repoServer = { url: state.httpServer.url, running: repoServerRunning(state.httpServer.pid, state.repoDir) };
  const backend = backendOf(state.backend);
  status.nodes = await Promise.all(
    state.nodes.map(async (n) => ({
      name: n.name,
      address: n.address,
      backend: n.backend,
      running: backend.isRunning(n, state),
      ssh: await canConnect(n.address, 22, 1000),
      ...(n.pid ? { pid: n.pid } : {}),
      generation: n.generation,
    })),
  );
  return status;
}

function requireUpState(cfg: LabConfig): LabState {
  const state = readState(cfg.stateDir);
  if (!state || state.phase !== 'up') {
    throw new KubiError('lab-not-up', `lab ${cfg.namespace} is not up`, { hint: 'start it with `kubi-provision lab up`' });
  }
  return state;
}

function findNode(state: LabState, name: string): NodeState {
  const node = state.nodes.find((n) => n.name === name);
  if (!node) throw new KubiError('lab-unknown-node', `lab ${state.namespace} has no node ${name}`, { hint: `nodes: ${state.nodes.map((n) => n.name).join(', ')}`, exitCode: 2 });
  return node;
}

export interface RebuildResult {
  node: NodeState;
  oldAddress: string;
  newAddress: string;
  inventoryPath: string;
  timings: Record<string, number>;
}

/**
 * The hardware change: wipe a node's disk (VM) or writable layer and volumes (container), give it a
 * fresh OS from the image with a NEW host key and machine-id, optionally a new address (then the
 * lab inventory is updated in place).
 */
export async function labRebuild(nodeName_: string, opts: LabOptions & { newAddress?: boolean }, say: Say = () => undefined): Promise<RebuildResult> {
  requireRoot('kubi-provision lab rebuild');
  const cfg = resolveConfig(opts);
  const state = requireUpState(cfg);
  const node = findNode(state, nodeName_);
  const runner = runnerFor(cfg.stateDir);
  const timings: Record<string, number> = {};
  const backend = backendOf(node.backend);
  const oldAddress = node.address;
  const subnetCfg = resolveConfig({ ...opts, subnet: state.subnet, backend: state.backend, nodes: state.nodes.length });
  const image = imageFromState(state);
  const vmImage: VmImage | undefined = state.backend === 'vm' ? (await ensureVmImage(image, runner, say)).vm : undefined;
  const publicKey = (await readFile(`${state.keyPath}.pub`, 'utf8')).trim();
  const ctx: LabContext = { cfg: subnetCfg, state, runner, image, ...(vmImage ? { vmImage } : {}), publicKey, repoUrl: state.repoUrl!, say };

  say(`rebuilding ${node.name}: wiping its ${node.backend === 'vm' ? 'disk' : 'writable layer and volumes'}`);
  await timed(timings, 'stop', () => backend.stop(node, ctx));
  node.generation += 1;
  if (opts.newAddress) {
    const offset = nextFreeOffset(subnetCfg.subnet, state.nodes.map((n) => n.offset));
    node.offset = offset;
    node.address = addressAt(subnetCfg.subnet, offset);
  }
  // the MAC stays: a re-imaged machine keeps its network card (and neighbours' ARP caches stay right)
  await writeState(state);
  await timed(timings, 'prepare', () => backend.prepare(node, ctx));
  await timed(timings, 'start', () => backend.start(node, ctx));
  await writeState(state);
  await forgetNeighbour(state, oldAddress, runner);
  await timed(timings, 'sshWait', () => waitForNode(node, state, runner, backend));
  if (node.address !== oldAddress && existsSync(state.inventoryPath)) {
    await updateInventoryAddress(state.inventoryPath, node.name, node.address);
    say(`${node.name} has the new address ${node.address} (was ${oldAddress}); updated ${state.inventoryPath}`);
  }
  say(`${node.name} rebuilt: fresh OS, new host key and machine-id`);
  return { node, oldAddress, newAddress: node.address, inventoryPath: state.inventoryPath, timings };
}

/** Drop cached ARP entries for an address (root namespace and lab namespace), so nothing waits on a stale one. */
async function forgetNeighbour(state: LabState, address: string, runner: LocalRunner): Promise<void> {
  await runner.run(['ip', 'neigh', 'flush', 'to', address, 'dev', hostVethName(state.namespace)], { allowFailure: true });
  await runner.run(['ip', 'neigh', 'flush', 'to', address], { netns: state.namespace, allowFailure: true });
}

function imageFromState(state: LabState): LabImage {
  if (!state.imageHash) throw new KubiError('lab-state', 'the lab state names no image');
  const dir = path.join(state.cacheDir, 'images', state.imageHash);
  return { hash: state.imageHash, dir, rootfs: path.join(dir, 'rootfs'), recipe: imageRecipe() };
}

/** The ssh argv for `lab ssh <node> [-- cmd...]` (the CLI runs it with the terminal attached). */
export function labSshArgv(nodeName_: string, command: readonly string[], opts: { namespace?: string; stateDir?: string; user?: string; tty?: boolean } = {}): string[] {
  const cfg = resolveConfig(opts);
  const state = requireUpState(cfg);
  const node = findNode(state, nodeName_);
  return sshArgv(state.keyPath, opts.user ?? 'root', node.address, remoteCommand(command), opts.tty ? ['-t'] : []);
}

/**
 * What `lab ssh` sends as the remote command (pure): one word is a shell command line
 * (`lab ssh node1 -- 'ls /etc | wc -l'`); several words are an argv, quoted so the remote shell
 * sees exactly those words (`lab ssh node1 -- sh -c 'echo $HOSTNAME'`).
 */
export function remoteCommand(command: readonly string[]): string[] {
  if (command.length <= 1) return [...command];
  return [pasteable(command)];
}
