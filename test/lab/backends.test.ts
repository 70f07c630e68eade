import { describe, expect, it } from 'vitest';
import { lxcConfig, netUpHookScript } from '../../src/lab/container.js';
import { parseSubnet } from '../../src/lab/config.js';
import { overlappingRoutes } from '../../src/lab/network.js';
import { nodeMac } from '../../src/lab/state.js';
import { chooseAccel, qemuArgv, vmKernelCmdline } from '../../src/lab/vm.js';
import { classifyPhase, planChangeCount, stoppedForMissingK3s } from '../../src/lab/demo.js';
import { remoteCommand } from '../../src/lab/lab.js';
import { installCommand, missingPackages } from '../../src/lab/prereqs.js';

describe('vm backend', () => {
  it('uses KVM only with real hardware virtualisation', () => {
    expect(chooseAccel({ cpuFlags: 'flags: fpu vmx sse', devKvm: true, kvmPvm: false }).accel).toBe('kvm');
    expect(chooseAccel({ cpuFlags: 'flags: fpu svm sse', devKvm: true, kvmPvm: false }).accel).toBe('kvm');
    const pvm = chooseAccel({ cpuFlags: 'flags: fpu vmx sse', devKvm: true, kvmPvm: true });
    expect(pvm.accel).toBe('tcg');
    expect(pvm.reason).toMatch(/kvm_pvm.*slow/);
    expect(chooseAccel({ cpuFlags: 'flags: fpu sse', devKvm: true, kvmPvm: false }).accel).toBe('tcg');
    expect(chooseAccel({ cpuFlags: 'flags: vmx', devKvm: false, kvmPvm: false }).accel).toBe('tcg');
  });

  it('carries the identity on the kernel command line', () => {
    const line = vmKernelCmdline({ name: 'node1', address: '10.77.0.11' }, parseSubnet('10.77.0.0/24'), 'http://10.77.0.1:8080/', 'ssh-ed25519 AAAA kubi-lab\n');
    expect(line).toContain('ip=10.77.0.11::10.77.0.1:255.255.255.0:node1:eth0:off');
    expect(line).toContain('systemd.hostname=node1');
    expect(line).toContain('net.ifnames=0');
    const key = /kubi\.key=(\S+)/.exec(line)![1]!;
    expect(Buffer.from(key, 'base64').toString()).toBe('ssh-ed25519 AAAA kubi-lab');
    expect(line.length).toBeLessThan(2048);
  });

  it('runs qemu daemonized with a pid file, serial log, tap and capped TCG cache', () => {
    const argv = qemuArgv({ name: 'node1', accel: 'tcg', memoryMiB: 1024, cpus: 2, kernel: '/k', initrd: '/i', cmdline: 'x', disk: '/s/vm/node1/disk.qcow2', tap: 'tap-node1', mac: '52:54:77:00:00:0b', consoleLog: '/s/c.log', pidFile: '/s/q.pid' });
    expect(argv).toContain('tcg,thread=multi,tb-size=256');
    expect(argv).toEqual(expect.arrayContaining(['-daemonize', '-pidfile', '/s/q.pid', '-serial', 'file:/s/c.log']));
    expect(argv.join(' ')).toContain('ifname=tap-node1,script=no');
    expect(qemuArgv({ name: 'n', accel: 'kvm', memoryMiB: 1, cpus: 1, kernel: '', initrd: '', cmdline: '', disk: '', tap: '', mac: '', consoleLog: '', pidFile: '' })).toEqual(expect.arrayContaining(['q35,accel=kvm', 'host']));
  });
});

describe('container backend', () => {
  const cfg = lxcConfig({ name: 'node12345678', address: '10.77.0.11', prefix: 24, gateway: '10.77.0.1', mac: '52:54:77:01:00:0b', lowerDir: '/img/rootfs', nodeDir: '/s/ct/node1', netUpHook: '/s/hooks/up.sh', cgroupHook: '/s/hooks/cg.sh' });
  it('has an overlay root over the image, an address on the lab bridge and the hooks', () => {
    expect(cfg).toContain('lxc.rootfs.path = overlay:/img/rootfs:/s/ct/node1/delta0');
    expect(cfg).toContain('lxc.net.0.ipv4.address = 10.77.0.11/24');
    expect(cfg).toContain('lxc.net.0.ipv4.gateway = 10.77.0.1');
    expect(cfg).toContain('lxc.net.0.script.up = /s/hooks/up.sh');
    expect(cfg).toContain('lxc.hook.mount = /s/hooks/cg.sh');
    expect(cfg).not.toMatch(/lxc\.net\.0\.link/);
    expect(cfg).not.toMatch(/^lxc\.cgroup2\./m);
  });
  it('binds plain host directories for container runtimes', () => {
    for (const v of ['containerd', 'rancher', 'kubelet', 'etcd']) expect(cfg).toContain(`lxc.mount.entry = /s/ct/node1/vol/${v} var/lib/${v} none bind,create=dir 0 0`);
  });
  it('keeps the veth name within 15 characters', () => {
    const pair = /lxc\.net\.0\.veth\.pair = (\S+)/.exec(cfg)![1]!;
    expect(pair.length).toBeLessThanOrEqual(15);
    expect(lxcConfig({ name: 'n', address: 'a', prefix: 24, gateway: 'g', mac: 'm', lowerDir: 'l', nodeDir: 'd', netUpHook: 'h', cgroupHook: null })).not.toContain('lxc.hook.mount');
  });
  it('the net-up hook attaches the veth to the bridge', () => {
    expect(netUpHookScript('kbr0')).toContain('exec ip link set "$5" master kbr0');
  });
  it('MACs are unique per backend, offset and generation', () => {
    const macs = new Set<string>();
    for (const b of ['container', 'vm'] as const) for (let o = 11; o < 40; o++) for (let g = 0; g < 3; g++) macs.add(nodeMac(b, o, g));
    expect(macs.size).toBe(2 * 29 * 3);
    expect(nodeMac('vm', 11, 0)).toMatch(/^52:54:77:00:00:0b$/);
  });
});

describe('lab network', () => {
  const s = parseSubnet('10.77.0.0/24');
  it('finds host routes that overlap the lab subnet', () => {
    const routes = [
      { dst: 'default', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0' },
      { dst: '10.77.0.0/24', dev: 'kubilab0' },
      { dst: '10.0.0.0/8', dev: 'wg0' },
      { dst: '10.77.0.9', dev: 'tun0' },
    ];
    expect(overlappingRoutes(routes, s, 'kubilab0').map((r) => r.dev)).toEqual(['wg0', 'tun0']);
  });
});

describe('demo phases', () => {
  it('reports "not built yet" honestly, never as passed', () => {
    expect(classifyPhase(1, 'error: up is not built yet\n  hint: see the open issues\n')).toEqual({ status: 'not built yet', detail: 'error: up is not built yet' });
    expect(classifyPhase(0, 'etcd: ok\nkubernetes: not built yet\n').status).toBe('not built yet');
    expect(classifyPhase(0, 'all good\n')).toEqual({ status: 'passed', detail: 'all good' });
    expect(classifyPhase(1, 'error: etcd did not start\n')).toEqual({ status: 'failed', detail: 'exit 1: error: etcd did not start' });
    expect(classifyPhase(null, '').status).toBe('failed');
  });
});

describe('prerequisites', () => {
  it('names the packages of missing commands, once each', () => {
    expect(missingPackages('container', () => true)).toEqual([]);
    expect(missingPackages('container', (c) => !c.startsWith('lxc-'))).toEqual(['lxc']);
    expect(missingPackages('vm', (c) => !['qemu-img', 'qemu-system-x86_64', 'debootstrap'].includes(c))).toEqual(['debootstrap', 'qemu-system-x86', 'qemu-utils']);
    expect(installCommand(['lxc'])).toEqual(['apt-get', 'install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', 'lxc']);
  });
});

describe('lab ssh remote command', () => {
  it('one word is a shell line, several words keep their boundaries', () => {
    expect(remoteCommand([])).toEqual([]);
    expect(remoteCommand(['ls /etc | wc -l'])).toEqual(['ls /etc | wc -l']);
    expect(remoteCommand(['sh', '-c', 'echo $(hostname)'])).toEqual(["sh -c 'echo $(hostname)'"]);
  });
});

describe('lab demo without a k3s binary', () => {
  it('recognises an up that stopped only at the k3s.artifact preflight', () => {
    const out = 'failed: k3s.artifact: the k3s binary (k3s v1.34.3+k3s1 amd64) is missing: not in the offline directory /x\n';
    expect(stoppedForMissingK3s(1, out)).toBe(true);
    expect(stoppedForMissingK3s(0, out)).toBe(false);
    expect(stoppedForMissingK3s(1, 'failed: node3: etcd.start: etcd did not become healthy\n')).toBe(false);
  });

  it('reads the change count of plan --output json', () => {
    expect(planChangeCount('run log: x\n{"totalChanges": 17, "steps": []}')).toBe(17);
    expect(planChangeCount('not json')).toBeNull();
  });
});

