/**
 * The `container` backend: privileged LXC system containers (systemd as PID 1, sshd, one address on
 * the lab bridge) over an overlay rootfs whose lower dir is the cached image. Per-node files
 * (hostname, hosts, machine-id, authorized keys, apt source) go into the node's writable layer
 * before it starts; plain ext4 directories of the host are bound on /var/lib/{containerd,rancher,
 * kubelet,etcd} (containerd's overlay snapshotter cannot work on an overlay root: pitfall 15).
 *
 * lxc-start runs under `nsenter --net` (not `ip netns exec`, pitfall 12), so the container's veth
 * host end is created inside the lab namespace; a script.up hook puts it on the bridge (pitfall 14);
 * lxc-info/lxc-stop must run in the same namespace (abstract socket, pitfall 13).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { aptSourceLine, type LabContext, type NodeBackend } from './backend.js';
import { cgroupMountHook, parseCgroupLayout } from './cgroups.js';
import { BRIDGE } from './config.js';
import type { LocalRunner } from './exec.js';
import { removeTree } from './fsutil.js';
import { imageUser } from './image.js';
import { netnsExists, netnsPath } from './network.js';
import { findProcesses, isAlive, processMatches, stopProcess, waitForExit } from './procs.js';
import type { LabState, NodeState } from './state.js';

export const CONTAINER_VOLUMES = ['containerd', 'rancher', 'kubelet', 'etcd'] as const;

export function lxcPath(stateDir: string): string {
  return path.join(stateDir, 'ct');
}

export function hooksDir(stateDir: string): string {
  return path.join(stateDir, 'hooks');
}

export interface LxcConfigInput {
  name: string;
  address: string;
  prefix: number;
  gateway: string;
  mac: string;
  lowerDir: string;
  nodeDir: string;
  netUpHook: string;
  cgroupHook: string | null;
}

/** The LXC config of one node (pure). */
export function lxcConfig(c: LxcConfigInput): string {
  const lines = [
    '# written by the kubi lab',
    `lxc.uts.name = ${c.name}`,
    `lxc.rootfs.path = overlay:${c.lowerDir}:${path.join(c.nodeDir, 'delta0')}`,
    'lxc.net.0.type = veth',
    `lxc.net.0.veth.pair = ${`ve-${c.name}`.slice(0, 15)}`,
    `lxc.net.0.script.up = ${c.netUpHook}`,
    'lxc.net.0.flags = up',
    'lxc.net.0.name = eth0',
    `lxc.net.0.hwaddr = ${c.mac}`,
    `lxc.net.0.ipv4.address = ${c.address}/${c.prefix}`,
    `lxc.net.0.ipv4.gateway = ${c.gateway}`,
    '# privileged, nesting-capable: containerd, runc and k3s run inside',
    'lxc.apparmor.profile = unconfined',
    'lxc.apparmor.allow_nesting = 1',
    'lxc.cap.drop =',
    '# the v1 key only: lxc.cgroup2.devices.allow breaks startup on hybrid hosts (pitfall 16)',
    'lxc.cgroup.devices.allow = a',
    'lxc.mount.auto = proc:rw sys:rw cgroup:rw',
    ...(c.cgroupHook ? [`lxc.hook.mount = ${c.cgroupHook}`] : []),
    'lxc.autodev = 1',
    'lxc.pty.max = 64',
    'lxc.tty.max = 1',
    'lxc.mount.entry = /dev/kmsg dev/kmsg none bind,create=file 0 0',
    'lxc.mount.entry = /dev/net/tun dev/net/tun none bind,create=file 0 0',
    ...CONTAINER_VOLUMES.map((v) => `lxc.mount.entry = ${path.join(c.nodeDir, 'vol', v)} var/lib/${v} none bind,create=dir 0 0`),
    'lxc.environment = container=lxc',
    'lxc.init.cmd = /lib/systemd/systemd',
    `lxc.log.file = ${path.join(c.nodeDir, 'lxc.log')}`,
    'lxc.log.level = WARN',
    `lxc.console.logfile = ${path.join(c.nodeDir, 'console.log')}`,
    '',
  ];
  return lines.join('\n');
}

export function netUpHookScript(bridge: string): string {
  return `#!/bin/sh\n# lxc.net.0.script.up written by the kubi lab: put the host end of the veth ($5) on the lab bridge\nexec ip link set "$5" master ${bridge}\n`;
}

/** Write the hook scripts of this lab (idempotent). */
export async function writeHooks(stateDir: string): Promise<{ netUp: string; cgroup: string | null }> {
  const dir = hooksDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const netUp = path.join(dir, 'lxc-net-up.sh');
  await writeFileAtomic(netUp, netUpHookScript(BRIDGE), 0o755);
  const script = cgroupMountHook(parseCgroupLayout(readFileSync('/proc/self/mountinfo', 'utf8')));
  if (!script) return { netUp, cgroup: null };
  const cgroup = path.join(dir, 'lxc-cgroup-mount.sh');
  await writeFileAtomic(cgroup, script, 0o755);
  return { netUp, cgroup };
}

/**
 * Create `rel` (a directory path inside the rootfs) in the overlay upper dir with the same mode and
 * owner as in the lower dir: an upper directory's attributes win over the lower one's.
 */
async function mkdirLikeLower(lower: string, upper: string, rel: string): Promise<void> {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    const target = path.join(upper, sub);
    if (existsSync(target)) continue;
    const src = path.join(lower, sub);
    const st = existsSync(src) ? lstatSync(src) : null;
    await mkdir(target);
    await chmod(target, st ? st.mode & 0o7777 : 0o755);
    if (st) await chown(target, st.uid, st.gid);
  }
}

async function putUpper(lower: string, upper: string, rel: string, content: string, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
  await mkdirLikeLower(lower, upper, path.dirname(rel));
  const p = path.join(upper, rel);
  await writeFile(p, content);
  await chmod(p, mode);
  if (owner) await chown(p, owner.uid, owner.gid);
}

function monitorMarkers(state: LabState, node: NodeState): string[] {
  return ['[lxc monitor]', `${lxcPath(state.stateDir)} ${node.name}`];
}

/** The container's init: alive, and in the container's cgroup. */
function initMatches(pid: number | undefined, node: NodeState): pid is number {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`lxc.payload.${node.name}`);
  } catch {
    return false;
  }
}

export const containerBackend: NodeBackend = {
  sshTimeoutMs: 60_000,

  async prepare(node, ctx) {
    const lower = ctx.image.rootfs;
    const dir = node.dir;
    const upper = path.join(dir, 'delta0');
    await removeTree(dir, ctx.runner);
    await mkdir(upper, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o700);
    for (const v of CONTAINER_VOLUMES) await mkdir(path.join(dir, 'vol', v), { recursive: true, mode: 0o700 });
    const kubi = imageUser(lower, 'kubi');
    const key = `${ctx.publicKey.trim()}\n`;
    await putUpper(lower, upper, 'etc/hostname', `${node.name}\n`, 0o644);
    await putUpper(lower, upper, 'etc/hosts', `127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n${node.address} ${node.name}\n`, 0o644);
    await putUpper(lower, upper, 'etc/fstab', '# the kubi lab container has no fstab entries\n', 0o644);
    await putUpper(lower, upper, 'etc/machine-id', `${randomBytes(16).toString('hex')}\n`, 0o444);
    await putUpper(lower, upper, 'etc/apt/sources.list', aptSourceLine(ctx.repoUrl), 0o644);
    await putUpper(lower, upper, 'root/.ssh/authorized_keys', key, 0o600);
    await putUpper(lower, upper, 'home/kubi/.ssh/authorized_keys', key, 0o600, kubi);
    const hooks = await writeHooks(ctx.state.stateDir);
    const config = lxcConfig({
      name: node.name,
      address: node.address,
      prefix: ctx.cfg.subnet.prefix,
      gateway: ctx.cfg.subnet.bridgeAddress,
      mac: node.mac,
      lowerDir: lower,
      nodeDir: dir,
      netUpHook: hooks.netUp,
      cgroupHook: hooks.cgroup,
    });
    await writeFileAtomic(path.join(dir, 'config'), config, 0o600);
  },

  async start(node, ctx) {
    const lxcpath = lxcPath(ctx.state.stateDir);
    const ns = ctx.state.namespace;
    const r = await ctx.runner.run(['lxc-start', '-P', lxcpath, '-n', node.name, '-d'], { netns: ns, allowFailure: true, timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      const log = path.join(node.dir, 'lxc.log');
      const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
      throw new KubiError('lab-container-start', `${node.name}: lxc-start failed (exit ${r.exitCode})`, {
        host: node.name,
        hint: `${tail || r.stderr.trim()} (log: ${log})`,
      });
    }
    // lxc-start -d can return before the init process exists (seen on a loaded machine): ask again for a while
    let pid = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      pid = Number((await ctx.runner.run(['lxc-info', '-P', lxcpath, '-n', node.name, '-pH'], { netns: ns, allowFailure: true })).stdout.trim());
      if (Number.isInteger(pid) && pid > 1) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!Number.isInteger(pid) || pid <= 1) throw new KubiError('lab-container-start', `${node.name}: lxc-info reports no init pid`, { host: node.name });
    node.pid = pid;
    const monitors = findProcesses(monitorMarkers(ctx.state, node));
    if (monitors[0]) node.monitorPid = monitors[0];
  },

  async stop(node, ctx) {
    const { state, runner } = ctx;
    const lxcpath = lxcPath(state.stateDir);
    // lxc-stop must run in the namespace of the container's monitor (abstract socket)
    const nsForLxc = netnsExists(state.namespace)
      ? state.namespace
      : processMatches(node.monitorPid, monitorMarkers(state, node))
        ? `/proc/${node.monitorPid}/ns/net`
        : null;
    if (nsForLxc && existsSync(path.join(lxcpath, node.name, 'config'))) {
      await runner.run(['lxc-stop', '-P', lxcpath, '-n', node.name, '-k'], { netns: nsForLxc.startsWith('/') ? nsForLxc : netnsPath(nsForLxc), allowFailure: true, timeoutMs: 30_000 });
    }
    // whatever lxc-stop could not reach: by recorded PID, after proving it is ours
    if (initMatches(node.pid, node)) {
      process.kill(node.pid, 'SIGKILL');
      await waitForExit(node.pid, 10_000);
    }
    const monitors = new Set([...(node.monitorPid ? [node.monitorPid] : []), ...findProcesses(monitorMarkers(state, node))]);
    for (const pid of monitors) await stopProcess(pid, monitorMarkers(state, node));
    delete node.pid;
    delete node.monitorPid;
  },

  isRunning(node) {
    return initMatches(node.pid, node);
  },
};

/** Remove a container node's files (its writable layer and volumes). */
export async function wipeContainerNode(node: NodeState, runner: LocalRunner): Promise<void> {
  await removeTree(node.dir, runner);
}
