/** API endpoint and chaos layers over scripted hosts (TEST DOUBLES); the lab test runs the real ones. */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/smoke/check.js';
import { chaosLayer } from '../../src/smoke/layers/chaos.js';
import { classifyTcpProbe, endpointLayer, interfaceWithAddress } from '../../src/smoke/layers/endpoint.js';
import { runSmoke } from '../../src/smoke/runner.js';
import { testContext, testInventory } from './harness/context.js';
import { type Rule, ScriptedHost } from './harness/scripted-host.js';

const ipAddr = (i: number, vip: boolean): string =>
  `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n2: eth0    inet 10.77.0.1${i}/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever\n${vip ? '2: eth0    inet 10.77.0.100/24 scope global secondary eth0\\       valid_lft forever\n' : ''}`;

interface World {
  k3s: Record<string, 'active' | 'inactive'>;
  keepalived: Record<string, 'active' | 'inactive'>;
  vip: string | null;
  /** what a TCP connect to the VIP gives */
  tcp: 'connected' | 'refused' | 'timeout';
}

function hosts(world: World, extra: Rule[] = []): ScriptedHost[] {
  return [1, 2, 3].map(
    (i) =>
      new ScriptedHost(`node${i}`, `10.77.0.1${i}`, [
        ...extra,
        { match: /^systemctl is-active k3s$/, reply: () => ({ stdout: `${world.k3s[`node${i}`] ?? 'inactive'}\n` }) },
        { match: /^systemctl is-active keepalived$/, reply: () => ({ stdout: `${world.keepalived[`node${i}`] ?? 'active'}\n` }) },
        { match: /^ip -o -4 addr show$/, reply: () => ({ stdout: ipAddr(i, world.vip === `node${i}`) }) },
        {
          match: /dev\/tcp\/10\.77\.0\.100\/6443/,
          kind: 'script',
          reply: () =>
            world.tcp === 'connected'
              ? { stdout: '@@tcp-exit=0\n' }
              : world.tcp === 'refused'
                ? { stdout: 'bash: connect: Connection refused\n@@tcp-exit=1\n' }
                : { stdout: '@@tcp-exit=124\n' },
        },
        { match: /^k3s kubectl --server https:\/\/10\.77\.0\.100:6443 get --raw \/readyz$/, reply: () => (world.vip ? { stdout: 'ok' } : { exitCode: 1, stderr: 'Unable to connect to the server' }) },
      ]),
  );
}

const rows = (rs: CheckResult[]) => rs.map((r) => [r.id, r.status, r.message]);

describe('endpoint layer', () => {
  it('mode none: ONE not-run row', async () => {
    const report = await runSmoke([endpointLayer], testContext({ inventory: testInventory({ endpoint: { mode: 'none' } }), hosts: [] }));
    expect(rows(report.layers[0]!.results)).toEqual([['endpoint.layer', 'not-run', 'endpoint mode none']]);
  });

  it('k3s running: keepalived everywhere, one holder, the VIP accepts connections, the API answers through it', async () => {
    const world: World = { k3s: { node1: 'active', node2: 'active', node3: 'active' }, keepalived: {}, vip: 'node2', tcp: 'connected' };
    const report = await runSmoke([endpointLayer], testContext({ hosts: hosts(world) }));
    expect(rows(report.layers[0]!.results)).toEqual([
      ['endpoint.keepalived', 'passed', 'active on node1, node2, node3'],
      ['endpoint.vip-holder', 'passed', '10.77.0.100 is held by node2 (eth0)'],
      ['endpoint.vip-reachable', 'passed', '10.77.0.100:6443 accepts connections from node1, node3 (held by node2)'],
      ['endpoint.api', 'passed', 'https://10.77.0.100:6443/readyz says ok (from node1)'],
    ]);
  });

  it('k3s running but refused, split brain, keepalived down: failures with evidence', async () => {
    const world: World = { k3s: { node1: 'active' }, keepalived: { node3: 'inactive' }, vip: 'node2', tcp: 'refused' };
    const hs = hosts(world, [{ match: /^ip -o -4 addr show$/, reply: (_t, n) => ({ stdout: ipAddr(1, true) + (n > 0 ? '' : '') }) }]);
    const report = await runSmoke([endpointLayer], testContext({ hosts: hs, options: { timeoutMs: 0 } }));
    const rs = report.layers[0]!.results;
    expect(rs.find((r) => r.id === 'endpoint.keepalived')).toMatchObject({ status: 'failed', message: 'keepalived is not active on node3 (inactive)' });
    expect(rs.find((r) => r.id === 'endpoint.vip-holder')).toMatchObject({ status: 'failed', message: '10.77.0.100 is held by 3 servers at once: node1, node2, node3' });
  });

  it('no holder while k3s runs nowhere: the VIP rows are not run with the reason (keepalived tracks the API)', async () => {
    const world: World = { k3s: {}, keepalived: {}, vip: null, tcp: 'timeout' };
    const report = await runSmoke([endpointLayer], testContext({ hosts: hosts(world) }));
    const why = 'no server holds 10.77.0.100: keepalived gives the VIP only to a server whose API server answers, and k3s is not running';
    expect(rows(report.layers[0]!.results)).toEqual([
      ['endpoint.keepalived', 'passed', 'active on node1, node2, node3'],
      ['endpoint.vip-holder', 'not-run', why],
      ['endpoint.vip-reachable', 'not-run', why],
      ['endpoint.api', 'not-run', 'k3s is not running'],
    ]);
    expect(report.ok).toBe(true);
  });

  it('no holder while k3s runs: failed, with keepalived states as evidence', async () => {
    const world: World = { k3s: { node1: 'active' }, keepalived: {}, vip: null, tcp: 'timeout' };
    const report = await runSmoke([endpointLayer], testContext({ hosts: hosts(world), options: { timeoutMs: 0 } }));
    const holder = report.layers[0]!.results.find((r) => r.id === 'endpoint.vip-holder')!;
    expect(holder).toMatchObject({ status: 'failed', message: 'no server holds 10.77.0.100' });
    expect(holder.evidence!.filter((e) => e.command === 'systemctl is-active keepalived')).toHaveLength(3);
    expect(report.layers[0]!.results.find((r) => r.id === 'endpoint.vip-reachable')).toMatchObject({ status: 'failed', message: expect.stringMatching(/does not answer \(node1: timeout, node2: timeout, node3: timeout; no server holds it\)/) });
  });

  it('parses ip -o addr and TCP probe outcomes', () => {
    expect(interfaceWithAddress(ipAddr(1, true), '10.77.0.100')).toBe('eth0');
    expect(interfaceWithAddress('3: eth0@if12    inet 10.77.0.100/32 scope global eth0', '10.77.0.100')).toBe('eth0');
    expect(interfaceWithAddress(ipAddr(1, false), '10.77.0.100')).toBeNull();
    expect(interfaceWithAddress(ipAddr(1, false), '10.77.0.1')).toBeNull();
    expect(classifyTcpProbe('bash: connect: No route to host\n@@tcp-exit=1')).toBe('unreachable');
    expect(classifyTcpProbe('@@tcp-exit=124')).toBe('timeout');
  });
});

describe('chaos layer', () => {
  it('is not run unless asked', async () => {
    const report = await runSmoke([chaosLayer], testContext({ hosts: [] }));
    expect(rows(report.layers[0]!.results)).toEqual([['chaos.layer', 'not-run', 'not requested (--chaos)']]);
  });

  it('with k3s: stops k3s on the VIP holder, the API still answers through the VIP (moved), starts it again', async () => {
    const world: World = { k3s: { node1: 'active', node2: 'active', node3: 'active' }, keepalived: {}, vip: 'node1', tcp: 'connected' };
    const extra: Rule[] = [
      {
        match: /^systemctl (stop|start) k3s$/,
        reply: (t) => {
          const stop = t.includes('stop');
          world.k3s.node1 = stop ? 'inactive' : 'active';
          if (stop) world.vip = 'node2';
          return { stdout: '' };
        },
      },
    ];
    const hs = hosts(world, extra);
    const report = await runSmoke([chaosLayer], testContext({ hosts: hs, options: { chaos: true } }));
    expect(rows(report.layers[0]!.results)).toEqual([
      ['chaos.stop', 'passed', 'stopped k3s on node1'],
      ['chaos.survives', 'passed', 'https://10.77.0.100:6443/readyz is ok; the VIP is now on node2'],
      ['chaos.recover', 'passed', 'k3s is active again on node1'],
    ]);
    const mutating = hs[0]!.calls.filter((c) => (c.opts as { mutating?: boolean }).mutating).map((c) => c.text);
    expect(mutating).toEqual(['systemctl stop k3s', 'systemctl start k3s']);
  });

  it('keepalived without k3s: the VIP must move away from the stopped holder and answer', async () => {
    const world: World = { k3s: {}, keepalived: {}, vip: 'node2', tcp: 'refused' };
    const extra: Rule[] = [
      {
        match: /^systemctl (stop|start) keepalived$/,
        reply: (t) => {
          if (t.includes('stop')) world.vip = 'node3';
          return { stdout: '' };
        },
      },
    ];
    const report = await runSmoke([chaosLayer], testContext({ hosts: hosts(world, extra), options: { chaos: true } }));
    expect(rows(report.layers[0]!.results)).toEqual([
      ['chaos.stop', 'passed', 'stopped keepalived on node2'],
      ['chaos.survives', 'passed', 'the VIP moved from node2 to node3 and answers from node1 (connection refused: nothing listens, k3s is not running)'],
      ['chaos.recover', 'passed', 'keepalived is active again on node2'],
    ]);
  });

  it('starts the stopped service again in the cleanup when a row failed midway', async () => {
    const world: World = { k3s: {}, keepalived: {}, vip: 'node2', tcp: 'timeout' };
    let started = 0;
    const extra: Rule[] = [
      { match: /^systemctl stop keepalived$/, reply: () => ({ stdout: '' }) },
      { match: /^systemctl start keepalived$/, reply: () => ((started += 1), { exitCode: started === 1 ? 1 : 0, stderr: started === 1 ? 'Job failed' : '' }) },
    ];
    const report = await runSmoke([chaosLayer], testContext({ hosts: hosts(world, extra), options: { chaos: true, timeoutMs: 0 } }));
    const rs = report.layers[0]!.results;
    expect(rs.find((r) => r.id === 'chaos.survives')!.status).toBe('failed');
    expect(rs.find((r) => r.id === 'chaos.recover')).toMatchObject({ status: 'failed', message: 'could not start keepalived on node2 again' });
    // the layer cleanup tried again, and that worked
    expect(started).toBe(2);
  });
});
