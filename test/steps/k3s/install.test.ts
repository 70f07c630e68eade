import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { planK3sInstall } from '../../../src/steps/k3s/install.js';
import { k3sInstallDesired, agentServerAddress, k3sConfigFiles, nodeOptions } from '../../../src/steps/k3s/desired.js';
import { k3sInstall } from '../../../src/steps/k3s/install.js';
import { sha256, type Observation } from '../../../src/steps/lib/index.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { FakeHost } from '../../engine/fake-host.js';
import { stepCtx } from '../host/context.js';
import { makeEnv, type StepEnv } from './env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

function withToken(token: string): void {
  mkdirSync(env.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(env.stateDir, 'k3s-token'), `${token}\n`, { mode: 0o600 });
}

describe('k3s.install', () => {
  it('a fresh server: binary, token (secret), datastore CA, client certificate and key (secret)', async () => {
    env = makeEnv({ k3s: true });
    withToken('a'.repeat(64));
    const cluster = env.cluster('apply');
    const remote = new FakeHost('node1', '10.77.0.11');
    for (const d of ['/usr', '/usr/local', '/usr/local/bin']) remote.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
    const ctx = stepCtx(cluster, 'node1', remote);
    const changes = await k3sInstall.plan(await k3sInstall.check(ctx), ctx);
    const files = changes.filter((c) => c.kind === 'file').map((c) => c.kind === 'file' && `${c.path} ${c.mode.toString(8)}${c.secret ? ' secret' : ''}`);
    expect(files).toEqual([
      '/usr/local/bin/k3s 755',
      '/etc/rancher/k3s/token 600 secret',
      '/etc/rancher/k3s/etcd/ca.crt 644',
      '/etc/rancher/k3s/etcd/client.crt 644',
      '/etc/rancher/k3s/etcd/client.key 600 secret',
    ]);
    expect(changes.filter((c) => c.kind === 'mkdir').map((c) => c.kind === 'mkdir' && `${c.path} ${c.mode.toString(8)}`)).toEqual(['/etc/rancher/k3s 755', '/etc/rancher/k3s/etcd 700']);
    // applied through the engine's executor, then converged
    const { applyChanges } = await import('../../../src/engine/apply.js');
    await applyChanges(remote, changes);
    expect(remote.text('/etc/rancher/k3s/token')).toBe(`${'a'.repeat(64)}\n`);
    expect(await k3sInstall.plan(await k3sInstall.check(ctx), ctx)).toEqual([]);
  });

  it('an agent gets no datastore certificate', async () => {
    env = makeEnv({ k3s: true });
    withToken('b'.repeat(64));
    const d = await k3sInstallDesired({ cluster: env.cluster(), host: env.inv.hosts[3]!, facts: env.facts.get('node4')! });
    expect(d.files.map((f) => f.path)).toEqual(['/usr/local/bin/k3s', '/etc/rancher/k3s/token']);
  });

  it('refuses a host that holds a different token (lost state directory), in plan and apply', async () => {
    env = makeEnv({ k3s: true });
    withToken('c'.repeat(64));
    const d = await k3sInstallDesired({ cluster: env.cluster(), host: env.inv.hosts[0]!, facts: env.facts.get('node1')! });
    const obs: Observation = { files: new Map(), units: new Map() };
    for (const f of [...d.files.map((x) => x.path), ...d.dirs.map((x) => x.path)]) obs.files.set(f, { path: f, type: 'missing' });
    obs.files.set('/etc/rancher/k3s/token', { path: '/etc/rancher/k3s/token', type: 'file', sha256: sha256('other-token\n'), mode: 0o600, owner: 'root', group: 'root', size: 12 });
    expect(() => planK3sInstall(d, obs, 'node1', 'v1.34.3+k3s1')).toThrow(/holds a different token than k3s-token in the state directory/);
    obs.files.set('/etc/rancher/k3s/token', { path: '/etc/rancher/k3s/token', type: 'file', sha256: sha256(`${'c'.repeat(64)}\n`), mode: 0o600, owner: 'root', group: 'root', size: 65 });
    expect(planK3sInstall(d, obs, 'node1', 'v1.34.3+k3s1').some((c) => c.kind === 'file' && c.path === '/etc/rancher/k3s/token')).toBe(false);
  });
});

describe('k3s node options and the agent server address', () => {
  const inv = Inventory.parse({
    cluster: { name: 't' },
    endpoint: { mode: 'none' },
    hosts: [
      { name: 's1', address: '10.0.0.1', roles: ['etcd', 'server'] },
      { name: 's2', address: '10.0.0.2', roles: ['server'] },
      { name: 'a1', address: '10.0.0.9', roles: ['agent'] },
    ],
  });

  it('in a container kube-proxy does not touch nf_conntrack_max', () => {
    expect(nodeOptions({ container: 'lxc' })).toEqual({ extraKubeProxyArgs: ['conntrack-max-per-core=0'] });
    expect(nodeOptions({ container: null })).toEqual({});
  });

  it('endpoint mode none: keeps the server the agent already uses while it is a server, else the first', () => {
    expect(agentServerAddress(inv, null)).toBe('10.0.0.1');
    expect(agentServerAddress(inv, 'server: "https://10.0.0.2:6443"\n')).toBe('10.0.0.2');
    expect(agentServerAddress(inv, 'server: "https://10.0.0.7:6443"\n')).toBe('10.0.0.1');
    expect(agentServerAddress(inv, ': not yaml [')).toBe('10.0.0.1');
  });

  it('the agent config follows that choice', () => {
    const facts = { container: null } as never;
    const host = inv.hosts[2]!;
    const cluster = { inventory: inv } as never;
    const config = (current: string | null) => k3sConfigFiles({ cluster, host, facts }, current).find((f) => f.path === '/etc/rancher/k3s/config.yaml')!.content as string;
    expect(config(null)).toContain('server: "https://10.0.0.1:6443"');
    expect(config('server: "https://10.0.0.2:6443"\n')).toContain('server: "https://10.0.0.2:6443"');
  });
});
