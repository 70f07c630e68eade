import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateReadiness, k3sStartAgents, k3sStartServers, noBlockArgv } from '../../../src/steps/k3s/start.js';
import type { Step } from '../../../src/engine/types.js';
import { FakeNode } from '../host/fake-node.js';
import { fakeClock, stepCtx } from '../host/context.js';
import { makeEnv, type StepEnv } from './env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

const probe = (active: string, restarts: number, ready: string, journal = '') =>
  `\n@@kubi:unit@@\nActiveState=${active}\nSubState=running\nNRestarts=${restarts}\n\n@@kubi:ready@@\n${ready}\n\n@@kubi:journal@@\n${journal}\n`;

describe('readiness of a k3s unit (pure)', () => {
  it('ready only when the unit is active and the probe printed the wanted word', () => {
    expect(evaluateReadiness(probe('active', 0, 'ok'), 'ok', 0).verdict).toEqual({ state: 'ready' });
    expect(evaluateReadiness(probe('active', 0, 'True'), 'True', 0).verdict).toEqual({ state: 'ready' });
    expect(evaluateReadiness(probe('active', 0, 'False'), 'True', 0).verdict.state).toBe('waiting');
    expect(evaluateReadiness(probe('activating', 0, 'The connection to the server 127.0.0.1:6443 was refused'), 'ok', 0).verdict).toMatchObject({
      state: 'waiting',
      evidence: expect.stringContaining('was refused'),
    });
  });

  it('a unit that restarted 4 times while waiting ends the wait with its journal', () => {
    const r = evaluateReadiness(probe('activating', 7, '', 'level=fatal msg="starting kubernetes: preparing server: bootstrap data already found and encrypted with different token"'), 'ok', 3);
    expect(r.verdict).toMatchObject({ state: 'failed', reason: 'the unit keeps restarting (4 restarts while waiting)', evidence: expect.stringContaining('different token') });
    expect(evaluateReadiness(probe('activating', 7, ''), 'ok', null).verdict.state).toBe('waiting');
  });

  it('starts and restarts never block on Type=notify', () => {
    expect(noBlockArgv({ kind: 'service', unit: 'k3s.service', action: 'enable-now' })).toEqual([
      ['systemctl', 'enable', 'k3s.service'],
      ['systemctl', 'start', '--no-block', 'k3s.service'],
    ]);
    expect(noBlockArgv({ kind: 'service', unit: 'k3s.service', action: 'restart' })).toEqual([['systemctl', 'restart', '--no-block', 'k3s.service']]);
    expect(noBlockArgv({ kind: 'service', unit: 'k3s.service', action: 'enable' })).toEqual([['systemctl', 'enable', 'k3s.service']]);
  });
});

describe('k3s.start-servers / k3s.start-agents on a scripted host (TEST DOUBLE: FakeNode)', () => {
  function setup(name: string, answers: string[]) {
    env = makeEnv({ k3s: true });
    mkdirSync(env.stateDir, { recursive: true });
    writeFileSync(path.join(env.stateDir, 'k3s-token'), `${'d'.repeat(64)}\n`, { mode: 0o600 });
    const clock = fakeClock();
    const cluster = { ...env.cluster('apply'), now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms) };
    const node = new FakeNode(name, env.inv.hosts.find((h) => h.name === name)!.address);
    node.addUnit(name === 'node4' ? 'k3s-agent.service' : 'k3s.service');
    let i = 0;
    const label = name === 'node4' ? 'probe the node' : 'probe the k3s API';
    node.onScript(label, () => answers[Math.min(i++, answers.length - 1)]!);
    const messages: string[] = [];
    return { node, clock, ctx: stepCtx(cluster, name, node, messages), messages };
  }

  async function converge(step: Step<unknown>, ctx: ReturnType<typeof setup>['ctx']) {
    const changes = await step.plan(await step.check(ctx), ctx);
    await step.apply!(changes, ctx);
    await step.settle!(ctx);
    return changes;
  }

  it('a fresh server: enabled, started without blocking, fingerprint recorded, waits for /readyz, then up to date', async () => {
    const s = setup('node1', [probe('activating', 0, 'connection refused'), probe('active', 0, 'ok')]);
    const changes = await converge(k3sStartServers as Step<unknown>, s.ctx);
    expect(changes).toEqual([{ kind: 'service', unit: 'k3s.service', action: 'enable-now', fingerprint: { path: '/var/lib/kubi-provision/fingerprints/k3s.service', value: expect.stringMatching(/^[0-9a-f]{64}$/) } }]);
    const calls = s.node.mutatingCalls().map((c) => c.what);
    expect(calls.slice(0, 2)).toEqual(['systemctl enable k3s.service', 'systemctl start --no-block k3s.service']);
    expect(s.clock.slept).toBe(5000);
    expect(s.messages).toEqual(['waiting for the k3s API on node1 to answer /readyz']);
    expect(await k3sStartServers.plan(await k3sStartServers.check(s.ctx), s.ctx)).toEqual([]);
  });

  it('a changed input restarts the server (rolling: the step is serial in the playbook)', async () => {
    const s = setup('node2', [probe('active', 0, 'ok')]);
    await converge(k3sStartServers as Step<unknown>, s.ctx);
    s.node.writeFile('/var/lib/kubi-provision/fingerprints/k3s.service', 'stale\n');
    const changes = await k3sStartServers.plan(await k3sStartServers.check(s.ctx), s.ctx);
    expect(changes).toMatchObject([{ kind: 'service', unit: 'k3s.service', action: 'restart' }]);
  });

  it('an agent waits until its node is Ready; a timeout says what it waited for, where, with the last output', async () => {
    const ok = setup('node4', [probe('active', 0, 'False'), probe('active', 0, 'True')]);
    await converge(k3sStartAgents as Step<unknown>, ok.ctx);
    expect(ok.messages).toEqual(['waiting for node node4 to be Ready']);
    env.cleanup();

    const slow = setup('node4', [probe('activating', 0, 'error: the server doesn\'t have a resource type "node"')]);
    const changes = await k3sStartAgents.plan(await k3sStartAgents.check(slow.ctx), slow.ctx);
    await k3sStartAgents.apply!(changes, slow.ctx);
    await expect(k3sStartAgents.settle!(slow.ctx)).rejects.toMatchObject({
      code: 'k3s-node-not-ready',
      host: 'node4',
      message: 'timed out after 600s waiting for node node4 to be Ready',
      hint: expect.stringContaining("doesn't have a resource type"),
    });
  });
});
