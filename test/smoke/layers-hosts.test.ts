/** Hosts layer over scripted hosts (TEST DOUBLES, see harness/scripted-host.ts) and a fake clock. */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/smoke/check.js';
import { hostsLayer } from '../../src/smoke/layers/hosts.js';
import { runSmoke } from '../../src/smoke/runner.js';
import { factsFor, testContext, testInventory } from './harness/context.js';
import { FakeClock, type Rule, ScriptedHost } from './harness/scripted-host.js';

/** What the probe script prints (`printf '\n@@kubi:%s@@\n'` before each section). */
const probeOutput = (opts: { swap?: string; forward?: string; bridge?: boolean } = {}): string => {
  const sections: Record<string, string[]> = {
    swaps: ['Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority', ...(opts.swap ? [`${opts.swap} partition 1048572 0 -2`] : [])],
    modules: ['@@no-proc-modules'],
    'sys-module': ['overlay'],
    filesystems: ['ext4', 'overlay'],
    bridge: opts.bridge === false ? [] : ['present'],
    sysctls: [`net.ipv4.ip_forward=${opts.forward ?? '1'}`, 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1'],
  };
  return Object.entries(sections)
    .map(([name, lines]) => `\n@@kubi:${name}@@\n${lines.map((l) => `${l}\n`).join('')}`)
    .join('');
};

function host(name: string, address: string, clock: FakeClock, offsetMs: number, extra: Rule[] = [], isRoot = true): ScriptedHost {
  return new ScriptedHost(
    name,
    address,
    [
      ...extra,
      { match: /^id -un$/, reply: { stdout: isRoot ? 'root\n' : 'kubi\n' } },
      { match: /^id -u$/, reply: { stdout: '0\n' } },
      { match: /@@kubi:%s@@/, kind: 'script', reply: { stdout: probeOutput() } },
      {
        match: /^date '\+%s\.%N'$/,
        reply: () => {
          clock.advance(1); // one way
          const remote = (clock.now() + offsetMs) / 1000;
          clock.advance(1); // and back
          return { stdout: `${remote.toFixed(9)}\n` };
        },
      },
    ],
    isRoot,
  );
}

/** The reported skew must contain the true one within its stated uncertainty, naming who is ahead. */
function expectSkewWithin(message: string, trueSkew: number, ahead: string): void {
  const m = message.match(/^max skew ([\d.]+) ms ± ([\d.]+) ms \((\S+) ahead of (\S+); limit 1000 ms\)$/);
  expect(m, message).not.toBeNull();
  expect(Math.abs(Number(m![1]) - trueSkew)).toBeLessThanOrEqual(Number(m![2]) + 0.05);
  expect(m![3]).toBe(ahead);
}

const rows = (results: CheckResult[], id: string) => results.filter((r) => r.id === id).map((r) => [r.host ?? '-', r.status, r.message]);

describe('hosts layer', () => {
  it('passes on healthy hosts: ssh (root and sudo), facts, swap, modules, sysctls, clock skew', async () => {
    const clock = new FakeClock();
    const hosts = [host('node1', '10.77.0.11', clock, 0), host('node2', '10.77.0.12', clock, 3, [], false), host('node3', '10.77.0.13', clock, -2)];
    const report = await runSmoke([hostsLayer], testContext({ hosts, clock }));
    const results = report.layers[0]!.results;
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
    const ssh = rows(results, 'hosts.ssh');
    expect(ssh.map((r) => r[0])).toEqual(['node1', 'node2', 'node3']);
    expect(ssh[0]![2]).toMatch(/^logged in as root, \d+ ms round trip$/);
    expect(ssh[1]![2]).toMatch(/^logged in as kubi, sudo works, \d+ ms round trip$/);
    expect(rows(results, 'hosts.facts')[0]).toEqual(['node1', 'passed', 'amd64 as expected, 10.77.0.11 on eth0']);
    expect(rows(results, 'hosts.modules')[0]).toEqual(['node1', 'passed', 'overlay built in, br_netfilter built in (/proc/sys/net/bridge exists)']);
    // true skew: node2 +3 ms, node3 -2 ms = 5 ms; the estimate must hold it within its stated error
    const [, status, message] = rows(results, 'hosts.clock-skew')[0]!;
    expect(status).toBe('passed');
    expectSkewWithin(message as string, 5, 'node2');
    // every command of the layer is read-only
    for (const h of hosts) for (const c of h.calls) expect((c.opts as { mutating?: boolean }).mutating).toBe(false);
  });

  it('fails the ssh row of an unreachable host and does not run its other checks', async () => {
    const clock = new FakeClock();
    const hosts = [host('node1', '10.77.0.11', clock, 0), host('node3', '10.77.0.13', clock, 0)];
    const report = await runSmoke([hostsLayer], testContext({ hosts, clock, unreachable: { node2: 'connect ECONNREFUSED 10.77.0.12:22' } }));
    const results = report.layers[0]!.results.filter((r) => r.host === 'node2');
    expect(results.map((r) => [r.id, r.status])).toEqual([
      ['hosts.ssh', 'failed'],
      ['hosts.facts', 'not-run'],
      ['hosts.swap', 'not-run'],
      ['hosts.modules', 'not-run'],
      ['hosts.sysctls', 'not-run'],
    ]);
    expect(results[0]!.message).toBe('cannot connect to node2 (10.77.0.12): connect ECONNREFUSED 10.77.0.12:22');
    expect(results[1]!.message).toBe('node2 is not reachable over ssh (connect ECONNREFUSED 10.77.0.12:22)');
    expect(report.ok).toBe(false);
  });

  it('fails on a clock 1.5 s ahead, naming the host, with per-host evidence', async () => {
    const clock = new FakeClock();
    const hosts = [host('node1', '10.77.0.11', clock, 0), host('node2', '10.77.0.12', clock, 1500), host('node3', '10.77.0.13', clock, 0)];
    const report = await runSmoke([hostsLayer], testContext({ hosts, clock }));
    const skew = report.layers[0]!.results.find((r) => r.id === 'hosts.clock-skew')!;
    expect(skew.status).toBe('failed');
    expectSkewWithin(skew.message, 1500, 'node2');
    expect(skew.evidence!.map((e) => e.host)).toEqual(['node1', 'node2', 'node3']);
    expect(skew.evidence![1]!.output).toMatch(/^offset to the workstation 1\d\d\d\.\d ms ± \d+\.\d ms \(best of 5 samples, rtt \d+\.\d ms\)$/);
  });

  it('fails facts on a wrong arch or a missing address, swap on, a module missing and a sysctl off', async () => {
    const clock = new FakeClock();
    const bad: Rule[] = [
      {
        match: /@@kubi:%s@@/,
        kind: 'script',
        reply: { stdout: probeOutput({ swap: '/dev/vda2', forward: '0', bridge: false }) },
      },
    ];
    const hosts = [host('node1', '10.77.0.11', clock, 0, bad), host('node2', '10.77.0.12', clock, 0), host('node3', '10.77.0.13', clock, 0)];
    const ctx = testContext({
      hosts,
      clock,
      facts: async (r) => (r.name === 'node1' ? factsFor(r.address, 'arm64') : r.name === 'node3' ? factsFor('10.77.0.99') : factsFor(r.address)),
    });
    const report = await runSmoke([hostsLayer], ctx);
    const res = report.layers[0]!.results;
    const node1 = res.filter((r) => r.host === 'node1' && r.status === 'failed');
    expect(node1.map((r) => [r.id, r.message])).toEqual([
      ['hosts.facts', 'node1: arch is arm64 (dpkg arm64, uname x86_64), the inventory says amd64'],
      ['hosts.swap', 'node1: swap is on (/dev/vda2)'],
      ['hosts.modules', 'node1: br_netfilter not present (no /proc/modules: the kernel has no loadable modules)'],
      ['hosts.sysctls', 'node1: net.ipv4.ip_forward is 0 (want 1)'],
    ]);
    expect(node1[1]!.evidence![0]).toMatchObject({ host: 'node1', command: 'swap/modules/sysctls probe (script)' });
    expect(res.find((r) => r.host === 'node3' && r.id === 'hosts.facts')!.message).toBe(
      'node3: address 10.77.0.13 is on no interface (found: lo 127.0.0.1/8, eth0 10.77.0.99/24)',
    );
    // node2 has no arch in the inventory: not checked
    expect(res.find((r) => r.host === 'node2' && r.id === 'hosts.facts')!.status).toBe('passed');
    // one probe round trip per host, shared by swap, modules and sysctls
    expect(hosts[0]!.commands('script')).toHaveLength(1);
  });

  it('fails ssh when sudo does not give root', async () => {
    const clock = new FakeClock();
    const hosts = [
      host('node1', '10.77.0.11', clock, 0),
      host('node2', '10.77.0.12', clock, 0, [{ match: /^id -u$/, reply: { exitCode: 1, stderr: 'sudo: a password is required' } }], false),
      host('node3', '10.77.0.13', clock, 0),
    ];
    const report = await runSmoke([hostsLayer], testContext({ hosts, clock }));
    const ssh = report.layers[0]!.results.find((r) => r.host === 'node2' && r.id === 'hosts.ssh')!;
    expect(ssh).toMatchObject({ status: 'failed', message: 'logged in as kubi, but sudo does not give root on node2' });
    expect(ssh.evidence![0]!.output).toBe('sudo: a password is required');
  });

  it('checks swap, modules and sysctls on every host, etcd-only ones too (like host.swap and host.kernel)', async () => {
    const clock = new FakeClock();
    const inventory = testInventory({
      hosts: [
        { name: 'etcd1', address: '10.77.0.21', roles: ['etcd'] },
        { name: 'node1', address: '10.77.0.11', roles: ['server'] },
      ],
    });
    const report = await runSmoke([hostsLayer], testContext({ inventory, hosts: [host('etcd1', '10.77.0.21', clock, 0), host('node1', '10.77.0.11', clock, 0)], clock }));
    expect(report.layers[0]!.results.filter((r) => r.host === 'etcd1').map((r) => r.id)).toEqual(['hosts.ssh', 'hosts.facts', 'hosts.swap', 'hosts.modules', 'hosts.sysctls']);
  });
});
