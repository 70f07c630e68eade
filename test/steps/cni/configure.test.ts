import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { cniConfigure, parseRoutes, planFlannelCleanup, sameRoutes } from '../../../src/steps/cni/configure.js';
import { cniInstall } from '../../../src/steps/cni/install.js';
import { applyChanges } from '../../../src/engine/apply.js';
import type { Observation } from '../../../src/steps/lib/index.js';
import { FakeNode } from '../host/fake-node.js';
import { stepCtx } from '../host/context.js';
import { makeEnv, type StepEnv } from '../k3s/env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

const ROUTES_NODE1 = '10.42.1.0/24 via 10.77.0.12 dev eth0 \n10.42.2.0/24 via 10.77.0.13 dev eth0 \n10.42.3.0/24 via 10.77.0.14 dev eth0 \n';

function node(name: string, routes: () => string): FakeNode {
  const n = new FakeNode(name, env.inv.hosts.find((h) => h.name === name)!.address);
  for (const d of ['/usr', '/usr/local', '/usr/local/lib', '/opt', '/etc/systemd', '/etc/systemd/system']) n.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
  n.addUnit('kubi-pod-routes.service');
  n.onScript('observe the CNI configuration and pod routes', () => routes());
  n.onExec((argv) => argv[0] === '/usr/local/lib/kubi/pod-routes.sh', () => '');
  return n;
}

describe('routes (pure)', () => {
  it('parses `ip -4 route show proto 77` and compares ignoring order', () => {
    const have = parseRoutes(ROUTES_NODE1);
    expect(have).toEqual([
      { dst: '10.42.1.0/24', via: '10.77.0.12' },
      { dst: '10.42.2.0/24', via: '10.77.0.13' },
      { dst: '10.42.3.0/24', via: '10.77.0.14' },
    ]);
    expect(sameRoutes([...have].reverse().map((r) => ({ ...r, node: 'x' })), have)).toBe(true);
    expect(sameRoutes(have.slice(1).map((r) => ({ ...r, node: 'x' })), have)).toBe(false);
  });
});

describe('cni.configure (bridge) on a scripted host (TEST DOUBLE: FakeNode)', () => {
  it('fresh: dirs, conflist with this node\'s subnet, loopback, routes script and unit, started; then converged', async () => {
    env = makeEnv();
    mkdirSync(env.stateDir, { recursive: true });
    writeFileSync(path.join(env.stateDir, 'pod-subnets.json'), JSON.stringify({ podCidr: '10.42.0.0/16', maskSize: 24, subnets: { node1: '10.42.0.0/24', node2: '10.42.1.0/24', node3: '10.42.2.0/24', node4: '10.42.3.0/24' } }));
    let routes = '';
    const n = node('node1', () => routes);
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    const changes = await cniConfigure.plan(await cniConfigure.check(ctx), ctx);
    expect(changes.map((c) => (c.kind === 'file' ? `file ${c.path}` : c.kind === 'service' ? `${c.action} ${c.unit}` : c.kind === 'mkdir' ? `mkdir ${c.path}` : c.kind))).toEqual([
      'mkdir /etc/cni/net.d',
      'mkdir /usr/local/lib/kubi',
      'file /etc/cni/net.d/10-kubi-bridge.conflist',
      'file /etc/cni/net.d/99-loopback.conf',
      'file /usr/local/lib/kubi/pod-routes.sh',
      'file /etc/systemd/system/kubi-pod-routes.service',
      'daemon-reload systemd',
      'enable-now kubi-pod-routes.service',
    ]);
    const conflist = changes.find((c) => c.kind === 'file' && c.path.endsWith('.conflist'));
    expect(JSON.parse(String(conflist?.kind === 'file' && conflist.content)).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.42.0.0/24' }]]);
    await applyChanges(n, changes);
    routes = ROUTES_NODE1; // what the unit's script did
    expect(await cniConfigure.plan(await cniConfigure.check(ctx), ctx)).toEqual([]);
  });

  it('a route removed by hand: the script runs again (unit unchanged)', async () => {
    env = makeEnv();
    let routes = '';
    const n = node('node1', () => routes);
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    await applyChanges(n, await cniConfigure.plan(await cniConfigure.check(ctx), ctx));
    routes = ROUTES_NODE1.split('\n').slice(1).join('\n');
    expect(await cniConfigure.plan(await cniConfigure.check(ctx), ctx)).toEqual([{ kind: 'command', title: 'apply the pod routes now', argv: ['/usr/local/lib/kubi/pod-routes.sh'] }]);
  });
});

describe('flannel mode', () => {
  it('cni.install and the bridge config plan nothing on a clean host', async () => {
    env = makeEnv({ inventory: { network: { cni: 'flannel' } } });
    const n = node('node1', () => '');
    const ctx = stepCtx(env.cluster('apply'), 'node1', n);
    expect(await cniInstall.plan(await cniInstall.check(ctx), ctx)).toEqual([]);
    expect(await cniConfigure.plan(await cniConfigure.check(ctx), ctx)).toEqual([]);
  });

  it('removes what an earlier bridge setup left: files, unit, routes', () => {
    const obs: Observation = { files: new Map(), units: new Map([['kubi-pod-routes.service', { unit: 'kubi-pod-routes.service', enabled: 'enabled', active: 'active' }]]) };
    for (const p of ['/etc/cni/net.d/10-kubi-bridge.conflist', '/etc/cni/net.d/99-loopback.conf', '/usr/local/lib/kubi/pod-routes.sh', '/etc/systemd/system/kubi-pod-routes.service']) {
      obs.files.set(p, { path: p, type: 'file', sha256: 'x', mode: 0o644, owner: 'root', group: 'root', size: 1 });
    }
    const changes = planFlannelCleanup({ observation: obs, routes: parseRoutes(ROUTES_NODE1) });
    expect(changes.map((c) => (c.kind === 'delete' ? `delete ${c.path}` : c.kind === 'service' ? `${c.action} ${c.unit}` : c.kind === 'command' ? c.argv.join(' ') : c.kind))).toEqual([
      'delete /etc/cni/net.d/10-kubi-bridge.conflist',
      'delete /etc/cni/net.d/99-loopback.conf',
      'delete /usr/local/lib/kubi/pod-routes.sh',
      'delete /etc/systemd/system/kubi-pod-routes.service',
      'disable kubi-pod-routes.service',
      'daemon-reload systemd',
      'ip -4 route flush proto 77',
    ]);
  });
});

describe('cni.install', () => {
  it('every plugin of the release into /opt/cni/bin (0755), uploaded once', async () => {
    env = makeEnv();
    const n = node('node2', () => '');
    const ctx = stepCtx(env.cluster('apply'), 'node2', n);
    const changes = await cniInstall.plan(await cniInstall.check(ctx), ctx);
    expect(changes.map((c) => (c.kind === 'file' || c.kind === 'mkdir') && `${c.path} ${c.mode.toString(8)}`)).toEqual([
      '/opt/cni/bin 755',
      '/opt/cni/bin/bridge 755',
      '/opt/cni/bin/host-local 755',
      '/opt/cni/bin/loopback 755',
      '/opt/cni/bin/portmap 755',
    ]);
    await applyChanges(n, changes);
    expect(await cniInstall.plan(await cniInstall.check(ctx), ctx)).toEqual([]);
  });
});
