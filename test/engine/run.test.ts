import { describe, expect, it } from 'vitest';
import { runPlaybook } from '../../src/engine/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { KubiError } from '../../src/errors.js';
import type { Step } from '../../src/engine/types.js';
import { cluster, desiredStep, fakeHosts, fileStep, localStep, playbookOf, registryWith, threeNodes } from './helpers.js';
import type { Call } from './fake-host.js';

const twoSteps = () => {
  const a = fileStep('demo.alpha', '/etc/demo/alpha.conf', (h) => `alpha for ${h}\n`);
  const b = desiredStep('demo.beta', 'Run beta', () => ({
    files: [{ path: '/etc/demo/beta.conf', content: 'beta=1\n', mode: 0o640, group: 'demo' }],
    services: [{ unit: 'beta.service', inputs: { files: [{ path: '/etc/demo/beta.conf', content: 'beta=1\n', mode: 0o640 }] } }],
  }));
  return { a, b, registry: registryWith(a, b) };
};

const PB = `
name: demo
description: two steps
steps:
  - id: demo.alpha
    hosts: all
  - id: demo.beta
    roles: [server]
`;

function collect(): { events: EngineEvent[]; on: (e: EngineEvent) => void } {
  const events: EngineEvent[] = [];
  return { events, on: (e) => events.push(e) };
}

describe('runPlaybook', () => {
  it('plan mode records exact changes and changes nothing', async () => {
    const { registry } = twoSteps();
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    for (const h of hosts.values()) h.addUnit('beta.service');
    const { events, on } = collect();
    const res = await runPlaybook({ playbook: playbookOf(registry, PB), cluster: cluster(inv, 'plan'), remotes: hosts, onEvent: on });
    expect(res.ok).toBe(true);
    expect(res.steps.map((s) => s.id)).toEqual(['demo.alpha', 'demo.beta']);
    // alpha on all 4 hosts (inventory order), beta only on servers
    expect(res.steps[0]!.hosts.map((h) => h.host)).toEqual(['node1', 'node2', 'node3', 'worker1']);
    expect(res.steps[1]!.hosts.map((h) => h.host)).toEqual(['node1', 'node2', 'node3']);
    const alpha = res.steps[0]!.hosts[0]!;
    expect(alpha.status).toBe('changed');
    expect(alpha.changes).toEqual([
      { kind: 'mkdir', path: '/etc/demo', mode: 0o755 },
      { kind: 'file', path: '/etc/demo/alpha.conf', content: 'alpha for node1\n', mode: 0o644, action: 'create', before: null },
    ]);
    const beta = res.steps[1]!.hosts[0]!;
    expect(beta.changes.map((c) => c.kind + ':' + ('action' in c ? c.action : ''))).toEqual(['file:create', 'service:enable-now']);
    for (const h of hosts.values()) {
      expect(h.mutatingCalls()).toEqual([]);
      expect(h.files.size).toBe(0);
    }
    expect(events.map((e) => e.type).filter((t) => t === 'step-start' || t === 'step-end' || t === 'run-start' || t === 'run-end')).toEqual([
      'run-start',
      'step-start',
      'step-end',
      'step-start',
      'step-end',
      'run-end',
    ]);
  });

  it('apply mode converges; the second run is up to date in one read-only round trip per host and step', async () => {
    const { registry } = twoSteps();
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    for (const h of hosts.values()) h.addUnit('beta.service');
    const pb = playbookOf(registry, PB);
    const first = await runPlaybook({ playbook: pb, cluster: cluster(inv, 'apply'), remotes: hosts });
    expect(first.ok).toBe(true);
    expect(first.steps.flatMap((s) => s.hosts.map((h) => h.status))).toEqual(Array(7).fill('changed'));
    const n1 = hosts.get('node1')!;
    expect(n1.text('/etc/demo/alpha.conf')).toBe('alpha for node1\n');
    expect(n1.files.get('/etc/demo/beta.conf')).toMatchObject({ mode: 0o640, group: 'demo' });
    expect(n1.units.get('beta.service')).toEqual({ enabled: 'enabled', active: 'active' });
    expect(n1.text('/var/lib/kubi-provision/fingerprints/beta.service')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(hosts.get('worker1')!.units.get('beta.service')).toEqual({ enabled: 'disabled', active: 'inactive' });

    for (const h of hosts.values()) h.calls.length = 0;
    const second = await runPlaybook({ playbook: pb, cluster: cluster(inv, 'apply'), remotes: hosts });
    expect(second.steps.flatMap((s) => s.hosts.map((h) => h.status))).toEqual(Array(7).fill('up-to-date'));
    expect(n1.calls).toHaveLength(2); // one observe script per step
    expect(n1.calls.every((c) => c.kind === 'script' && !c.mutating)).toBe(true);
    expect(hosts.get('worker1')!.calls).toHaveLength(1);
  });

  it('restarts a service only when its inputs change, and records the fingerprint after the restart', async () => {
    let value = '1';
    const step = desiredStep('demo.svc', 'Run svc', () => ({
      files: [{ path: '/etc/svc.conf', content: `v=${value}\n`, mode: 0o644 }],
      services: [{ unit: 'svc.service', inputs: { files: [{ path: '/etc/svc.conf', content: `v=${value}\n`, mode: 0o644 }] } }],
    }));
    const pb = playbookOf(registryWith(step), 'name: t\nsteps:\n  - id: demo.svc\n    names: [node1]\n');
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    const n1 = hosts.get('node1')!;
    n1.addUnit('svc.service');
    await runPlaybook({ playbook: pb, cluster: cluster(inv, 'apply'), remotes: hosts });
    n1.calls.length = 0;
    value = '2';
    const res = await runPlaybook({ playbook: pb, cluster: cluster(inv, 'apply'), remotes: hosts });
    expect(res.steps[0]!.hosts[0]!.changes.map((c) => c.kind + ':' + ('action' in c ? c.action : ''))).toEqual(['file:update', 'service:restart']);
    expect(n1.mutatingCalls().map((c) => `${c.kind}:${c.label ?? c.what}`)).toEqual([
      'putFile:/etc/svc.conf',
      'exec:restart svc.service',
      'script:record fingerprint of svc.service',
    ]);
    expect(n1.text('/etc/svc.conf')).toBe('v=2\n');
  });

  it('serial strategy runs one host at a time in inventory order; parallel respects the concurrency bound', async () => {
    const journal: Call[] = [];
    const inv = threeNodes();
    const hosts = fakeHosts(inv, journal);
    let inFlight = 0;
    let maxInFlight = 0;
    for (const h of hosts.values()) {
      h.before = async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      };
    }
    const s = fileStep('demo.serial', '/etc/demo/s', (h) => h);
    const p = fileStep('demo.par', '/etc/demo/p', (h) => h);
    const registry = registryWith(s, p);
    const { events, on } = collect();
    await runPlaybook({
      playbook: playbookOf(registry, 'name: t\nsteps:\n  - id: demo.serial\n    hosts: all\n    strategy: serial\n'),
      cluster: cluster(inv, 'apply'),
      remotes: hosts,
      onEvent: on,
    });
    expect(maxInFlight).toBe(1);
    const order = events.filter((e) => e.type === 'host-start' || e.type === 'host-result').map((e) => `${e.type}:${'host' in e ? e.host : ''}`);
    expect(order).toEqual(['node1', 'node2', 'node3', 'worker1'].flatMap((h) => [`host-start:${h}`, `host-result:${h}`]));

    maxInFlight = 0;
    const ev2 = collect();
    await runPlaybook({
      playbook: playbookOf(registry, 'name: t\nsteps:\n  - id: demo.par\n    hosts: all\n    concurrency: 2\n'),
      cluster: cluster(inv, 'apply'),
      remotes: hosts,
      onEvent: ev2.on,
    });
    expect(maxInFlight).toBe(2);
    const starts = ev2.events.filter((e) => e.type === 'host-start').map((e) => ('host' in e ? e.host : ''));
    expect(starts.slice(0, 2)).toEqual(['node1', 'node2']);
    // a third host started before the first two had all finished? no: bound is 2
    const firstResults = ev2.events.findIndex((e) => e.type === 'host-result');
    const thirdStart = ev2.events.findIndex((e) => e.type === 'host-start' && e.host === 'node3');
    expect(thirdStart).toBeGreaterThan(firstResults);

    maxInFlight = 0;
    await runPlaybook({
      playbook: playbookOf(registry, 'name: t\nsteps:\n  - id: demo.par\n    hosts: all\n'),
      cluster: cluster(inv, 'plan'),
      remotes: hosts,
      maxConcurrency: 3,
    });
    expect(maxInFlight).toBe(3);
  });

  it('the first failure stops the run, names host and step; hosts in flight finish, no new work starts', async () => {
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    let releaseNode1!: () => void;
    const node1Gate = new Promise<void>((r) => (releaseNode1 = r));
    // node1 is in the middle of applying (its putFile waits) when node2 fails its check
    hosts.get('node1')!.before = async (c) => {
      if (c.kind === 'putFile') await node1Gate;
    };
    hosts.get('node2')!.before = async (c) => {
      if (c.kind === 'script') {
        await new Promise((r) => setTimeout(r, 10));
        throw new KubiError('boom', 'disk on fire', { hint: 'call the fire brigade' });
      }
    };
    const a = fileStep('demo.alpha', '/etc/demo/a', (h) => h);
    const b = fileStep('demo.beta', '/etc/demo/b', (h) => h);
    const pb = playbookOf(registryWith(a, b), 'name: t\nsteps:\n  - id: demo.alpha\n    hosts: all\n    concurrency: 2\n  - id: demo.beta\n    hosts: all\n');
    const done = runPlaybook({ playbook: pb, cluster: cluster(inv, 'apply'), remotes: hosts });
    setTimeout(() => releaseNode1(), 50);
    const res = await done;
    expect(res.ok).toBe(false);
    expect(res.failure?.host).toBe('node2');
    expect(res.failure?.step).toBe('demo.alpha');
    expect(res.failure?.error.code).toBe('boom');
    expect(res.failure?.error.summary).toBe('node2: demo.alpha: disk on fire');
    const alpha = res.steps[0]!.hosts;
    expect(alpha.map((h) => h.status)).toEqual(['changed', 'failed', 'skipped', 'skipped']);
    expect(hosts.get('node1')!.text('/etc/demo/a')).toBe('node1'); // in-flight host finished cleanly
    expect(hosts.get('node3')!.calls).toEqual([]); // never started
    expect(res.notRun).toEqual(['demo.beta']);
    expect(res.steps).toHaveLength(1);
  });

  it('a host that planned changes but had not started applying when the run stopped is skipped, not applied', async () => {
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    // node1's check is slow; node2 fails meanwhile; node1 must not apply afterwards
    hosts.get('node1')!.before = async (c) => {
      if (c.kind === 'script') await new Promise((r) => setTimeout(r, 30));
    };
    hosts.get('node2')!.before = () => {
      throw new Error('Connection Reset');
    };
    const a = fileStep('demo.alpha', '/etc/demo/a', (h) => h);
    const res = await runPlaybook({ playbook: playbookOf(registryWith(a), 'name: t\nsteps:\n  - id: demo.alpha\n    names: [node1, node2]\n'), cluster: cluster(inv, 'apply'), remotes: hosts });
    expect(res.steps[0]!.hosts.map((h) => h.status)).toEqual(['skipped', 'failed']);
    expect(res.steps[0]!.hosts[0]!.changes.length).toBeGreaterThan(0);
    expect(hosts.get('node1')!.mutatingCalls()).toEqual([]);
    // a plain Error is wrapped once with host and step
    expect(res.failure?.error.code).toBe('step-failed');
    expect(res.failure?.error.summary).toBe('node2: demo.alpha: connection reset');
  });

  it('fails loudly as a bug when a step still has changes after apply', async () => {
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    const liar: Step<null> = {
      id: 'demo.liar',
      title: 'Never converge',
      check: async () => null,
      plan: () => [{ kind: 'command', title: 'touch the flag', argv: ['true'] }],
    };
    const res = await runPlaybook({ playbook: playbookOf(registryWith(liar), 'name: t\nsteps:\n  - id: demo.liar\n    names: [node3]\n'), cluster: cluster(inv, 'apply'), remotes: hosts });
    expect(res.ok).toBe(false);
    expect(res.failure?.error.code).toBe('step-not-converged');
    expect(res.failure?.error.message).toBe('still has 1 change after apply: run: touch the flag');
    expect(res.failure?.error.summary).toMatch(/^node3: demo\.liar: /);
    expect(res.failure?.error.hint).toMatch(/bug/);
    expect(hosts.get('node3')!.mutatingCalls().map((c) => c.what)).toEqual(['true']);
  });

  it('runs a local step once, with the generic local executor, and skips nothing', async () => {
    const { mkdtemp, readFile, stat } = await import('node:fs/promises');
    const os = await import('node:os');
    const dir = await mkdtemp(`${os.tmpdir()}/kubi-local-`);
    const { existsSync } = await import('node:fs');
    const step = localStep('pki.demo', () =>
      existsSync(`${dir}/pki/ca.txt`) ? [] : [{ kind: 'file', path: 'pki/ca.txt', content: 'ca\n', mode: 0o600, action: 'create', secret: true }],
    );
    const inv = threeNodes();
    const res = await runPlaybook({
      playbook: playbookOf(registryWith(step), 'name: t\nsteps:\n  - id: pki.demo\n    hosts: local\n'),
      cluster: cluster(inv, 'apply', { stateDir: dir }),
      remotes: new Map(),
    });
    expect(res.ok).toBe(true);
    expect(res.steps[0]!.hosts.map((h) => [h.host, h.status])).toEqual([['(local)', 'changed']]);
    expect(await readFile(`${dir}/pki/ca.txt`, 'utf8')).toBe('ca\n');
    expect((await stat(`${dir}/pki/ca.txt`)).mode & 0o777).toBe(0o600);
  });

  it('the caller signal (SIGINT) stops the run: nothing new starts, the result says interrupted', async () => {
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    const ac = new AbortController();
    hosts.get('node1')!.before = (c) => {
      if (c.kind === 'putFile') ac.abort();
    };
    const a = fileStep('demo.alpha', '/etc/demo/a', (h) => h);
    const b = fileStep('demo.beta', '/etc/demo/b', (h) => h);
    const res = await runPlaybook({
      playbook: playbookOf(registryWith(a, b), 'name: t\nsteps:\n  - id: demo.alpha\n    hosts: all\n    strategy: serial\n  - id: demo.beta\n    hosts: all\n'),
      cluster: cluster(inv, 'apply', { signal: ac.signal }),
      remotes: hosts,
    });
    expect(res.ok).toBe(false);
    expect(res.interrupted).toBe(true);
    expect(res.failure).toBeUndefined();
    expect(res.steps[0]!.hosts.map((h) => h.status)).toEqual(['changed', 'skipped', 'skipped', 'skipped']);
    expect(res.notRun).toEqual(['demo.beta']);
  });

  it('selection: --until a component runs only up to its last step', async () => {
    const steps = ['host.prepare', 'etcd.install', 'etcd.configure', 'k3s.install'].map((id) => fileStep(id, `/etc/demo/${id}`, () => id));
    const pb = playbookOf(registryWith(...steps), `name: t\nsteps:\n${steps.map((s) => `  - id: ${s.id}\n    hosts: all\n`).join('')}`);
    const inv = threeNodes();
    const res = await runPlaybook({ playbook: pb, cluster: cluster(inv, 'plan'), remotes: fakeHosts(inv), selection: { until: 'etcd' } });
    expect(res.steps.map((s) => s.id)).toEqual(['host.prepare', 'etcd.install', 'etcd.configure']);
  });
});
