import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_MODULES, SYSCTLS, renderModulesLoad, renderSysctl } from '../../../src/render/host-prep.js';
import { kernelStateScript, parseKernelState, planKernelNow, type KernelState } from '../../../src/steps/host/kernel-rules.js';
import { hostKernel } from '../../../src/steps/host/kernel.js';
import { FakeNode } from './fake-node.js';
import { clusterOf, goodFacts, stepCtx, threeNodes } from './context.js';

const converged: KernelState = {
  modules: { overlay: true, br_netfilter: true },
  sysctls: Object.fromEntries(SYSCTLS.map(([n, v]) => [n, { value: v, writable: true }])),
};

describe('kernel state probe', () => {
  it('reads this machine\'s real modules and sysctls (built-in br_netfilter has no /sys/module entry)', () => {
    const out = execFileSync('bash', ['-s'], { input: kernelStateScript(KERNEL_MODULES, SYSCTLS) }).toString();
    const state = parseKernelState(out);
    const filesystems = readFileSync('/proc/filesystems', 'utf8');
    expect(state.modules.overlay).toBe(/\toverlay$/m.test(filesystems));
    let bridge = true;
    try {
      readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables');
    } catch {
      bridge = false;
    }
    expect(state.modules.br_netfilter).toBe(bridge);
    expect(state.sysctls['net.ipv4.ip_forward']).toEqual({ value: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), writable: true });
  });

  it('reports a sysctl that does not exist as null', () => {
    const out = execFileSync('bash', ['-s'], { input: kernelStateScript([], [['net.kubi.no-such-sysctl', '1']]) }).toString();
    expect(parseKernelState(out).sysctls['net.kubi.no-such-sysctl']).toEqual({ value: null, writable: false });
  });
});

describe('planKernelNow', () => {
  it('fresh VM: modprobe first, then one sysctl -w with every value (bridge sysctls appear with br_netfilter)', () => {
    const fresh: KernelState = {
      modules: { overlay: false, br_netfilter: false },
      sysctls: {
        'net.ipv4.ip_forward': { value: '0', writable: true },
        'net.bridge.bridge-nf-call-iptables': { value: null, writable: false },
        'net.bridge.bridge-nf-call-ip6tables': { value: null, writable: false },
      },
    };
    expect(planKernelNow(fresh, KERNEL_MODULES, SYSCTLS, { container: null })).toEqual([
      { kind: 'command', title: 'load kernel modules overlay, br_netfilter', argv: ['modprobe', '-a', 'overlay', 'br_netfilter'] },
      {
        kind: 'command',
        title: 'set sysctls net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1',
        argv: ['sysctl', '-w', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1'],
      },
    ]);
  });

  it('converged: nothing', () => {
    expect(planKernelNow(converged, KERNEL_MODULES, SYSCTLS, { container: null })).toEqual([]);
  });

  it('container: built-in modules count as loaded; a missing module is an error, never a modprobe', () => {
    expect(planKernelNow(converged, KERNEL_MODULES, SYSCTLS, { container: 'lxc' })).toEqual([]);
    expect(() => planKernelNow({ ...converged, modules: { overlay: true, br_netfilter: false } }, KERNEL_MODULES, SYSCTLS, { container: 'lxc' })).toThrow(
      /kernel module br_netfilter not available in this lxc container/,
    );
  });

  it('a read-only sysctl that differs is an honest error with a hint', () => {
    const ro: KernelState = { ...converged, sysctls: { ...converged.sysctls, 'net.ipv4.ip_forward': { value: '0', writable: false } } };
    expect(() => planKernelNow(ro, KERNEL_MODULES, SYSCTLS, { container: 'lxc' })).toThrow(/sysctl net.ipv4.ip_forward is 0 and read-only here/);
  });
});

describe('host.kernel step (scripted fake host)', () => {
  const probe = (state: KernelState) => () =>
    [
      ...Object.entries(state.modules).map(([m, on]) => `m ${m} ${on ? 'yes' : 'no'}`),
      ...Object.entries(state.sysctls).map(([n, s]) => `k ${n} ${s.writable ? 'yes' : 'no'} ${s.value ?? '-'}`),
    ].join('\n');

  it('fresh host: writes both boot-time files, loads modules, sets sysctls; converged host: one read-only round trip, nothing', async () => {
    const cluster = clusterOf(threeNodes());
    const node = new FakeNode('node1').onScript('observe kernel modules and sysctls', probe({ ...converged, sysctls: { ...converged.sysctls, 'net.ipv4.ip_forward': { value: '0', writable: true } } }));
    node.dirs.set('/etc/modules-load.d', { mode: 0o755, owner: 'root', group: 'root' });
    node.dirs.set('/etc/sysctl.d', { mode: 0o755, owner: 'root', group: 'root' });
    const ctx = stepCtx(cluster, 'node1', node);
    const plan = await hostKernel.plan(await hostKernel.check(ctx), ctx);
    expect(plan.map((c) => (c.kind === 'file' ? `${c.action} ${c.path}` : c.kind === 'command' ? c.argv.join(' ') : c.kind))).toEqual([
      'create /etc/modules-load.d/kubi.conf',
      'create /etc/sysctl.d/90-kubi.conf',
      'sysctl -w net.ipv4.ip_forward=1',
    ]);

    node.writeFile('/etc/modules-load.d/kubi.conf', renderModulesLoad());
    node.writeFile('/etc/sysctl.d/90-kubi.conf', renderSysctl());
    node.onScript('observe kernel modules and sysctls', probe(converged));
    node.calls.length = 0;
    expect(await hostKernel.plan(await hostKernel.check(ctx), { ...ctx, facts: { ...goodFacts('node1'), container: 'lxc' } })).toEqual([]);
    expect(node.calls.map((c) => [c.kind, c.mutating])).toEqual([['script', false]]);
  });

  it('a changed sysctl file is an update with the old content for the diff', async () => {
    const node = new FakeNode('node1').onScript('observe kernel modules and sysctls', probe(converged));
    node.writeFile('/etc/modules-load.d/kubi.conf', renderModulesLoad());
    node.writeFile('/etc/sysctl.d/90-kubi.conf', 'net.ipv4.ip_forward = 0\n');
    const ctx = stepCtx(clusterOf(threeNodes()), 'node1', node);
    const plan = await hostKernel.plan(await hostKernel.check(ctx), ctx);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ kind: 'file', path: '/etc/sysctl.d/90-kubi.conf', action: 'update', before: 'net.ipv4.ip_forward = 0\n' });
  });
});
