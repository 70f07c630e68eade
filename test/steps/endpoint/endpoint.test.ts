import { afterEach, describe, expect, it } from 'vitest';
import { endpointConfigure, endpointDesired, planEndpoint } from '../../../src/steps/endpoint/configure.js';
import { endpointInstall, installScriptFor, parsePresence, planEndpointInstall, presenceScript } from '../../../src/steps/endpoint/install.js';
import { vipPlacement } from '../../../src/steps/endpoint/host-network.js';
import { applyChanges } from '../../../src/engine/apply.js';
import { MANAGED_NOTICE } from '../../../src/render/engine.js';
import type { Observation } from '../../../src/steps/lib/index.js';
import { FakeNode } from '../host/fake-node.js';
import { stepCtx } from '../host/context.js';
import { factsFor, makeEnv, type StepEnv } from '../k3s/env.js';
import { execFileSync } from 'node:child_process';

let env: StepEnv;
afterEach(() => env?.cleanup());

describe('where the VIP goes', () => {
  it('the interface holding the host address and its prefix; the inventory wins', () => {
    env = makeEnv();
    const h = env.inv.hosts[0]!;
    const facts = { interfaces: [{ name: 'lo', ipv4: ['127.0.0.1/8'], up: true }, { name: 'br0', ipv4: ['10.77.0.11/22'], up: true }] };
    expect(vipPlacement(env.inv, h, facts)).toEqual({ interface: 'br0', prefixLength: 22 });
    const inv2 = { ...env.inv, endpoint: { ...env.inv.endpoint, interface: 'bond0', subnet: '10.77.0.0/24' } };
    expect(vipPlacement(inv2, h, facts)).toEqual({ interface: 'bond0', prefixLength: 24 });
    expect(() => vipPlacement(env.inv, h, { interfaces: [] })).toThrow(/no interface holds 10.77.0.11/);
  });
});

describe('endpoint.install', () => {
  it('finds programs with one read-only script (run for real with sh)', () => {
    const out = execFileSync('sh', ['-c', presenceScript(['sh', 'no-such-program-kubi'])], { encoding: 'utf8' });
    expect(parsePresence(out, ['sh', 'no-such-program-kubi'])).toEqual({ sh: true, 'no-such-program-kubi': false });
  });

  it('installs only what is missing, with the host package manager; refuses without one', () => {
    expect(planEndpointInstall({ present: { keepalived: true, curl: true } }, 'apt')).toEqual([]);
    const apt = planEndpointInstall({ present: { keepalived: false, curl: true } }, 'apt');
    expect(apt).toMatchObject([{ kind: 'script', title: 'install keepalived (apt)' }]);
    expect(apt[0]!.kind === 'script' && apt[0]!.script).toContain('apt-get install -y -q --no-install-recommends');
    expect(installScriptFor('dnf', ['keepalived', 'curl'])).toBe('set -e\ndnf install -y keepalived curl');
    expect(installScriptFor('pacman', ['keepalived'])).toContain('pacman -S --noconfirm --needed keepalived');
    expect(() => planEndpointInstall({ present: { keepalived: false, curl: true } }, null)).toThrow(/no supported package manager/);
  });

  it('installs nothing for kube-vip or none', async () => {
    env = makeEnv({ inventory: { endpoint: { mode: 'none' } } });
    const n = new FakeNode('node1', '10.77.0.11');
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    expect(await endpointInstall.plan(await endpointInstall.check(ctx), ctx)).toEqual([]);
    expect(n.calls).toEqual([]);
  });
});

describe('endpoint.configure on a scripted host (TEST DOUBLE: FakeNode)', () => {
  it('keepalived: config with unicast peers, check script, service started; reload only on change', async () => {
    env = makeEnv();
    const n = new FakeNode('node2', '10.77.0.12');
    n.addUnit('keepalived.service');
    const ctx = stepCtx(env.cluster('apply'), 'node2', n);
    const changes = await endpointConfigure.plan(await endpointConfigure.check(ctx), ctx);
    expect(changes.map((c) => (c.kind === 'file' ? `${c.path} ${c.mode.toString(8)}` : c.kind === 'service' ? `${c.action} ${c.unit}` : c.kind === 'mkdir' ? `mkdir ${c.path}` : c.kind))).toEqual([
      'mkdir /etc/keepalived',
      '/etc/keepalived/keepalived.conf 600',
      '/etc/keepalived/check-apiserver.sh 755',
      'enable-now keepalived.service',
    ]);
    const conf = String((changes[1] as { content: string }).content);
    expect(conf).toContain('interface eth0');
    expect(conf).toContain('priority 190');
    expect(conf).toMatch(/unicast_peer \{\n\s+10\.77\.0\.11\n\s+10\.77\.0\.13\n\s+\}/);
    expect(conf).toContain('10.77.0.100/24 dev eth0');
    await applyChanges(n, changes);
    expect(await endpointConfigure.plan(await endpointConfigure.check(ctx), ctx)).toEqual([]);
    const moved = { ...env.cluster('apply'), inventory: { ...env.inv, endpoint: { ...env.inv.endpoint, virtualRouterId: 77 } } };
    const ctx2 = stepCtx(moved, 'node2', n);
    expect((await endpointConfigure.plan(await endpointConfigure.check(ctx2), ctx2)).filter((c) => c.kind === 'service')).toEqual([
      { kind: 'service', unit: 'keepalived.service', action: 'reload', fingerprint: expect.anything() },
    ]);
  });

  it('kube-vip: the static pod manifest; switching from keepalived stops and removes only our keepalived', () => {
    env = makeEnv({ inventory: { endpoint: { mode: 'kube-vip', vip: '10.77.0.100' } } });
    const ctx = { cluster: env.cluster('plan'), host: env.inv.hosts[0]!, facts: factsFor('node1', '10.77.0.11') };
    const d = endpointDesired(ctx);
    expect(d.files?.map((f) => f.path)).toEqual(['/var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml']);
    const ours = (text: string): Observation => {
      const obs: Observation = { files: new Map(), units: new Map([['keepalived.service', { unit: 'keepalived.service', enabled: 'enabled', active: 'active' }]]) };
      for (const p of ['/var/lib/rancher/k3s/agent/pod-manifests', '/var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml']) obs.files.set(p, { path: p, type: 'missing' });
      obs.files.set('/etc/keepalived/keepalived.conf', { path: '/etc/keepalived/keepalived.conf', type: 'file', sha256: 'x', mode: 0o600, owner: 'root', group: 'root', size: 10, content: Buffer.from(text) });
      obs.files.set('/etc/keepalived/check-apiserver.sh', { path: '/etc/keepalived/check-apiserver.sh', type: 'file', sha256: 'y', mode: 0o755, owner: 'root', group: 'root', size: 10 });
      return obs;
    };
    const kinds = (o: Observation) => planEndpoint('kube-vip', d, o).map((c) => (c.kind === 'service' ? `${c.action} ${c.unit}` : c.kind === 'delete' ? `delete ${c.path}` : `${c.kind} ${'path' in c ? c.path : ''}`));
    expect(kinds(ours(`# ${MANAGED_NOTICE}\nvrrp_instance x {}\n`))).toEqual([
      'mkdir /var/lib/rancher/k3s/agent/pod-manifests',
      'file /var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml',
      'stop keepalived.service',
      'disable keepalived.service',
      'delete /etc/keepalived/keepalived.conf',
      'delete /etc/keepalived/check-apiserver.sh',
    ]);
    // a keepalived of the user's own is left alone
    expect(kinds(ours('vrrp_instance mine {}\n'))).toEqual(['mkdir /var/lib/rancher/k3s/agent/pod-manifests', 'file /var/lib/rancher/k3s/agent/pod-manifests/kube-vip.yaml']);
  });
});
