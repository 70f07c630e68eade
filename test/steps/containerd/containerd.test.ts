import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseToml } from 'smol-toml';
import { containerdInstall } from '../../../src/steps/containerd/install.js';
import { containerdConfigure, evaluateContainerdProbe } from '../../../src/steps/containerd/configure.js';
import { crictlVersionFor } from '../../../src/steps/containerd/desired.js';
import { applyChanges } from '../../../src/engine/apply.js';
import type { Change } from '../../../src/engine/types.js';
import { FakeNode } from '../host/fake-node.js';
import { fakeClock, stepCtx } from '../host/context.js';
import { makeEnv, type StepEnv } from '../k3s/env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

const describeChanges = (changes: Change[]) =>
  changes.map((c) => (c.kind === 'file' ? `${c.action} ${c.path}` : c.kind === 'service' ? `${c.action} ${c.unit}` : c.kind === 'mkdir' ? `mkdir ${c.path}` : c.kind));

function node(name = 'node1'): FakeNode {
  const n = new FakeNode(name, '10.77.0.11');
  for (const d of ['/usr', '/usr/local', '/usr/local/bin', '/usr/local/sbin', '/etc/systemd', '/etc/systemd/system']) n.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
  n.addUnit('containerd.service');
  n.onScript('probe containerd', () => 'Client:\n Version: 1.6.20\nServer:\n Version: 1.6.20\n@@ready\n');
  return n;
}

describe('containerd steps on a scripted host (TEST DOUBLE: FakeNode)', () => {
  it('install: containerd, shim, ctr, runc (0755); crictl only when its artifact exists', async () => {
    env = makeEnv();
    const n = node();
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    const changes = await containerdInstall.plan(await containerdInstall.check(ctx), ctx);
    expect(describeChanges(changes)).toEqual([
      'create /usr/local/bin/containerd',
      'create /usr/local/bin/containerd-shim-runc-v2',
      'create /usr/local/bin/ctr',
      'create /usr/local/sbin/runc',
    ]);
    await applyChanges(n, changes);
    expect(await containerdInstall.plan(await containerdInstall.check(ctx), ctx)).toEqual([]);
    env.cleanup();

    env = makeEnv({ crictl: true });
    const m = node();
    const ctx2 = stepCtx(env.cluster('apply'), 'node1', m);
    expect(describeChanges(await containerdInstall.plan(await containerdInstall.check(ctx2), ctx2))).toContain('create /usr/local/bin/crictl');
  });

  it('configure: config.toml (systemd cgroups, bridge CNI dirs), unit, crictl.yaml; enabled and started; then up to date', async () => {
    env = makeEnv();
    const n = node();
    const clock = fakeClock();
    const cluster = { ...env.cluster('apply'), now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms) };
    const ctx = stepCtx(cluster, 'node1', n);
    await applyChanges(n, await containerdInstall.plan(await containerdInstall.check(ctx), ctx));
    const changes = await containerdConfigure.plan(await containerdConfigure.check(ctx), ctx);
    expect(describeChanges(changes)).toEqual([
      'mkdir /etc/containerd',
      'create /etc/containerd/config.toml',
      'create /etc/systemd/system/containerd.service',
      'create /etc/crictl.yaml',
      'daemon-reload systemd',
      'enable-now containerd.service',
    ]);
    const config = changes.find((c): c is Extract<Change, { kind: 'file' }> => c.kind === 'file' && c.path === '/etc/containerd/config.toml')!;
    const toml = parseToml(String(config.content)) as Record<string, any>;
    const cri = toml.plugins['io.containerd.grpc.v1.cri'];
    expect(cri.containerd.runtimes.runc.options.SystemdCgroup).toBe(true);
    expect(cri.cni).toEqual({ bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', max_conf_num: 1 });
    expect(cri.sandbox_image).toBe('docker.io/rancher/mirrored-pause:3.6');
    await applyChanges(n, changes);
    await containerdConfigure.settle!(ctx);
    expect(await containerdConfigure.plan(await containerdConfigure.check(ctx), ctx)).toEqual([]);
  });

  it('a new binary restarts the running daemon (fingerprint), a converged node plans nothing', async () => {
    env = makeEnv();
    const n = node();
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    await applyChanges(n, await containerdInstall.plan(await containerdInstall.check(ctx), ctx));
    await applyChanges(n, await containerdConfigure.plan(await containerdConfigure.check(ctx), ctx));
    // someone replaced runc by hand: install puts ours back, configure restarts containerd
    n.writeFile('/usr/local/sbin/runc', '#!/bin/sh\necho other runc\n', 0o755);
    const fix = await containerdInstall.plan(await containerdInstall.check(ctx), ctx);
    expect(describeChanges(fix)).toEqual(['update /usr/local/sbin/runc']);
    await applyChanges(n, fix);
    expect(await containerdConfigure.plan(await containerdConfigure.check(ctx), ctx)).toEqual([]);
    // a config change (flannel CNI directories) restarts it
    const flannel = { ...env.cluster('apply'), inventory: { ...env.inv, network: { ...env.inv.network, cni: 'flannel' as const } } };
    const ctx2 = stepCtx(flannel, 'node1', n);
    const changes = await containerdConfigure.plan(await containerdConfigure.check(ctx2), ctx2);
    expect(describeChanges(changes)).toEqual(['update /etc/containerd/config.toml', 'restart containerd.service']);
    const toml = parseToml(String((changes[0] as { content: string }).content)) as Record<string, any>;
    expect(toml.plugins['io.containerd.grpc.v1.cri'].cni.conf_dir).toBe('/var/lib/rancher/k3s/agent/etc/cni/net.d');
  });

  it('containerd 2.x gets the version 3 config layout', async () => {
    env = makeEnv();
    const v2 = { ...env.cluster('plan'), inventory: { ...env.inv, versions: { ...env.inv.versions, containerd: '2.1.4' } } };
    const { containerdFiles } = await import('../../../src/render/containerd.js');
    const toml = parseToml(containerdFiles(v2.inventory)[0]!.content) as Record<string, unknown>;
    expect(toml.version).toBe(3);
  });

  it('the readiness probe and crictl version (pure)', () => {
    expect(evaluateContainerdProbe('@@ready\n')).toEqual({ state: 'ready' });
    expect(evaluateContainerdProbe('@@ctr=fail\nctr: failed to dial "/run/containerd/containerd.sock": connection refused\n')).toMatchObject({ state: 'waiting', evidence: expect.stringContaining('connection refused') });
    expect(crictlVersionFor('v1.34.3+k3s1')).toBe('v1.34.0');
    expect(crictlVersionFor('garbage')).toBeNull();
  });
});
