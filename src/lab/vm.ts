/**
 * The `vm` backend: QEMU VMs with their own Debian kernel, for steps that need a real kernel
 * (modules, sysctls, swap, reboots). Each VM boots the image's kernel and initrd directly, on a qcow2
 * overlay of the base disk (absolute backing path: pitfall 2), with a tap on the lab bridge, a serial
 * console log and a PID file. Its identity (address, host name, authorized key, apt source) comes
 * from the kernel command line, so a reboot keeps it and a rebuilt disk gets a fresh machine-id and
 * host key at first boot.
 *
 * KVM only when it is real hardware virtualisation (vmx/svm and no kvm_pvm module: on a PVM host a
 * stock kernel crawls under -enable-kvm, pitfall 1); TCG otherwise, which is slow (~45 s to boot).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { LabContext, NodeBackend } from './backend.js';
import type { Subnet } from './config.js';
import { removeTree } from './fsutil.js';
import { addTap, deleteTap, tapName } from './network.js';
import { isAlive, processMatches, stopProcess } from './procs.js';
import type { LabState, NodeState } from './state.js';

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  reason: string;
}

/** Pure: decide between KVM and TCG from what the host shows. */
export function chooseAccel(host: { cpuFlags: string; devKvm: boolean; kvmPvm: boolean }): AccelChoice {
  const hw = /\b(vmx|svm)\b/.test(host.cpuFlags);
  if (!host.devKvm) return { accel: 'tcg', reason: 'no /dev/kvm: software emulation (TCG), slow (~45 s per boot)' };
  if (host.kvmPvm) {
    return { accel: 'tcg', reason: '/dev/kvm is kvm_pvm (no VT-x/AMD-V for stock kernels): software emulation (TCG), slow (~45 s per boot)' };
  }
  if (!hw) return { accel: 'tcg', reason: 'the CPU shows no vmx/svm: software emulation (TCG), slow (~45 s per boot)' };
  return { accel: 'kvm', reason: 'hardware virtualisation (KVM)' };
}

export function detectAccel(): AccelChoice {
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
  } catch {
    /* no cpuinfo: TCG */
  }
  return chooseAccel({ cpuFlags: flags, devKvm: existsSync('/dev/kvm'), kvmPvm: existsSync('/sys/module/kvm_pvm') });
}

/** The kernel command line that carries a VM's identity (pure). */
export function vmKernelCmdline(node: { name: string; address: string }, subnet: Subnet, repoUrl: string, publicKey: string): string {
  const key = Buffer.from(publicKey.trim()).toString('base64');
  return [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'net.ifnames=0',
    `ip=${node.address}::${subnet.bridgeAddress}:${subnet.netmask}:${node.name}:eth0:off`,
    `systemd.hostname=${node.name}`,
    `kubi.apt=${repoUrl}`,
    `kubi.key=${key}`,
    'quiet',
  ].join(' ');
}

export interface QemuArgs {
  name: string;
  accel: 'kvm' | 'tcg';
  memoryMiB: number;
  cpus: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  disk: string;
  tap: string;
  mac: string;
  consoleLog: string;
  pidFile: string;
}

/** The qemu argv (pure). */
export function qemuArgv(a: QemuArgs): string[] {
  const accel =
    a.accel === 'kvm'
      ? ['-machine', 'q35,accel=kvm', '-cpu', 'host']
      : // multi-threaded TCG; tb-size caps the translation cache (1 GiB per VM by default in qemu 7.2: pitfall 6)
        ['-machine', 'q35', '-accel', 'tcg,thread=multi,tb-size=256', '-cpu', 'max'];
  return [
    'qemu-system-x86_64',
    '-name', a.name,
    ...accel,
    '-smp', String(a.cpus),
    '-m', String(a.memoryMiB),
    '-kernel', a.kernel,
    '-initrd', a.initrd,
    '-append', a.cmdline,
    '-drive', `file=${a.disk},if=virtio,format=qcow2,cache=unsafe,discard=unmap`,
    '-netdev', `tap,id=n0,ifname=${a.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=n0,mac=${a.mac}`,
    '-device', 'virtio-rng-pci',
    '-display', 'none',
    '-serial', `file:${a.consoleLog}`,
    '-monitor', 'none',
    '-pidfile', a.pidFile,
    '-daemonize',
  ];
}

function diskPath(node: NodeState): string {
  return path.join(node.dir, 'disk.qcow2');
}

function qemuMarkers(node: NodeState): string[] {
  return ['qemu-system', diskPath(node)];
}

export const vmBackend: NodeBackend = {
  sshTimeoutMs: 420_000,

  async prepare(node, ctx) {
    if (!ctx.vmImage) throw new KubiError('lab-vm', 'the vm image is not built', { hint: 'internal error: ensureVmImage must run first' });
    await removeTree(node.dir, ctx.runner);
    await mkdir(node.dir, { recursive: true, mode: 0o700 });
    // ABSOLUTE backing path: a relative one resolves against the overlay's directory (pitfall 2)
    await ctx.runner.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', path.resolve(ctx.vmImage.disk), '-F', 'qcow2', diskPath(node)]);
    node.tap = tapName(node.name);
  },

  async start(node, ctx: LabContext) {
    if (!ctx.vmImage) throw new KubiError('lab-vm', 'the vm image is not built');
    if (this.isRunning(node, ctx.state)) return;
    const tap = node.tap ?? tapName(node.name);
    node.tap = tap;
    await addTap(ctx.state.namespace, tap, ctx.runner);
    const pidFile = path.join(node.dir, 'qemu.pid');
    await rm(pidFile, { force: true });
    const consoleLog = path.join(node.dir, 'console.log');
    const argv = qemuArgv({
      name: node.name,
      accel: ctx.state.vm?.accel ?? 'tcg',
      memoryMiB: ctx.state.vm?.memoryMiB ?? 1024,
      cpus: ctx.state.vm?.cpus ?? 2,
      kernel: ctx.vmImage.kernel,
      initrd: ctx.vmImage.initrd,
      cmdline: vmKernelCmdline(node, ctx.cfg.subnet, ctx.repoUrl, ctx.publicKey),
      disk: diskPath(node),
      tap,
      mac: node.mac,
      consoleLog,
      pidFile,
    });
    await ctx.runner.run(argv, { netns: ctx.state.namespace, timeoutMs: 60_000 });
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!isAlive(pid)) throw new KubiError('lab-vm-start', `${node.name}: qemu exited right after start`, { host: node.name, hint: `see ${consoleLog}` });
    node.pid = pid;
  },

  async stop(node, ctx) {
    let pid = node.pid;
    const pidFile = path.join(node.dir, 'qemu.pid');
    if (!pid && existsSync(pidFile)) pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
    // a lab VM is throw-away: no clean shutdown needed (the disk is cache=unsafe anyway)
    await stopProcess(pid, qemuMarkers(node), 3000);
    if (processMatches(pid, qemuMarkers(node))) throw new KubiError('lab-vm-stop', `${node.name}: qemu (pid ${pid}) does not stop`, { host: node.name });
    await rm(pidFile, { force: true });
    if (node.tap) await deleteTap(ctx.state.namespace, node.tap, ctx.runner);
    delete node.pid;
  },

  isRunning(node: NodeState, _state: LabState) {
    return processMatches(node.pid, qemuMarkers(node));
  },
};
