/**
 * The `plan` / `up` command flow (src/cli/commands/run.ts) with its collaborators replaced:
 * the inventory loader is the real one (a temp file), hosts are the FakeHost TEST DOUBLE, facts
 * are fixed. Checks outputs, exit codes, the run log, the lock and the early refusals.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { register, runCommand, type RunDeps } from '../../src/cli/commands/run.js';
import type { CliContext, Colors, Output } from '../../src/cli/output.js';
import { loadInventory } from '../../src/inventory/load.js';
import { defaultRegistry } from '../../src/steps/registry.js';
import type { Step } from '../../src/engine/types.js';
import { KubiError } from '../../src/errors.js';
import { FakeHost, fakeFacts } from './fake-host.js';
import { fileStep } from './helpers.js';

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
function capture(): { cli: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const output: Output = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    line: (t = '') => (out += t + '\n'),
    errLine: (t = '') => (err += t + '\n'),
    color: plain,
    errColor: plain,
  };
  return { cli: { output, debug: false }, out: () => out, err: () => err };
}

let failNode2 = false;
beforeAll(() => {
  const fail: Step<null> = {
    id: 'clitest.maybe-fail',
    title: 'Fail on node2 when asked',
    check: async (ctx) => {
      if (failNode2 && ctx.host.name === 'node2') throw new KubiError('disk-full', 'no space left on /var', { hint: 'free some space' });
      return null;
    },
    plan: () => [],
  };
  defaultRegistry.register(fileStep('clitest.write', '/etc/clitest/app.conf', (h) => `host=${h}\n`), fail);
});

function setup(): { dir: string; inv: string; pb: string; hosts: Map<string, FakeHost>; deps: RunDeps; connected: string[][] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-cli-run-'));
  const inv = path.join(dir, 'inv.yaml');
  writeFileSync(
    inv,
    `cluster:\n  name: clitest\nendpoint:\n  mode: none\nhosts:\n${['node1', 'node2', 'node3']
      .map((n, i) => `  - name: ${n}\n    address: 10.9.0.${11 + i}\n    roles: [etcd, server]\n`)
      .join('')}  - name: worker1\n    address: 10.9.0.20\n    roles: [agent]\n`,
  );
  const pb = path.join(dir, 'pb.yaml');
  writeFileSync(pb, 'name: clitest\nsteps:\n  - id: clitest.write\n    roles: [server]\n  - id: clitest.maybe-fail\n    roles: [server]\n');
  const hosts = new Map(['node1', 'node2', 'node3', 'worker1'].map((n) => [n, new FakeHost(n)]));
  const connected: string[][] = [];
  const deps: RunDeps = {
    loadInventory,
    connect: async (a) => {
      connected.push(a.hosts);
      return { hosts: new Map(a.hosts.map((n) => [n, hosts.get(n)!])), closeAll: () => undefined };
    },
    gatherFacts: async (r) => fakeFacts(r.name),
  };
  return { dir, inv, pb, hosts, deps, connected };
}

describe('plan / up command', () => {
  it('plan shows diffs and changes nothing; up applies; a second up says up to date; only targeted hosts are connected', async () => {
    const s = setup();
    const c1 = capture();
    expect(await runCommand('plan', s.inv, { playbook: s.pb, quiet: true }, c1.cli, s.deps)).toBe(0);
    expect(c1.out()).toContain('+++ b/etc/clitest/app.conf');
    expect(c1.out()).toContain('+host=node2');
    expect(c1.out()).toContain('plan: would make 6 changes on 3 hosts');
    expect([...s.hosts.values()].flatMap((h) => h.mutatingCalls())).toEqual([]);
    expect(s.connected).toEqual([['node1', 'node2', 'node3']]);
    const state = path.join(s.dir, '.kubi', 'clitest');
    expect(existsSync(path.join(state, 'lock'))).toBe(false);

    const c2 = capture();
    expect(await runCommand('up', s.inv, { playbook: s.pb, quiet: true }, c2.cli, s.deps)).toBe(0);
    expect(c2.out()).toBe('done: made 6 changes on 3 hosts, 3 up to date (2 steps)\n');
    expect(s.hosts.get('node3')!.text('/etc/clitest/app.conf')).toBe('host=node3\n');

    const c3 = capture();
    expect(await runCommand('up', s.inv, { playbook: s.pb, quiet: true }, c3.cli, s.deps)).toBe(0);
    expect(c3.out()).toBe('up to date: 2 steps, 6 host-steps, nothing to change\n');
    const logs = readdirSync(path.join(state, 'runs'));
    expect(logs).toHaveLength(3);
    expect(logs.filter((l) => l.endsWith('-up.log'))).toHaveLength(2);
  });

  it('a failure exits 1 and the summary names host, step and hint', async () => {
    const s = setup();
    failNode2 = true;
    try {
      const c = capture();
      expect(await runCommand('up', s.inv, { playbook: s.pb, quiet: true, from: 'clitest.maybe-fail' }, c.cli, s.deps)).toBe(1);
      expect(c.out()).toContain('failed: node2: clitest.maybe-fail: no space left on /var\nhint: free some space');
    } finally {
      failNode2 = false;
    }
  });

  it('plan --output json and --runbook', async () => {
    const s = setup();
    const c = capture();
    const runbook = path.join(s.dir, 'runbook.md');
    expect(await runCommand('plan', s.inv, { playbook: s.pb, quiet: true, output: 'json', runbook, only: ['clitest.write'] }, c.cli, s.deps)).toBe(0);
    const json = JSON.parse(c.out()) as { totalChanges: number; steps: { id: string }[] };
    expect(json.totalChanges).toBe(6);
    expect(json.steps.map((x) => x.id)).toEqual(['clitest.write']);
    expect(readFileSync(runbook, 'utf8')).toContain("cat > /etc/clitest/app.conf <<'KUBI_EOF'\nhost=node1\nKUBI_EOF");
  });

  it('refuses bad selections and options before touching anything (exit 2), and a held lock', async () => {
    const s = setup();
    const state = path.join(s.dir, '.kubi', 'clitest');
    const c = capture();
    await expect(runCommand('plan', s.inv, { playbook: s.pb, until: 'clitest.wrte' }, c.cli, s.deps)).rejects.toMatchObject({
      exitCode: 2,
      message: '--until clitest.wrte: no such step in this playbook (did you mean clitest.write?)',
    });
    await expect(runCommand('plan', s.inv, { playbook: s.pb, output: 'yaml' }, c.cli, s.deps)).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand('plan', s.inv, { playbook: s.pb, concurrency: '0' }, c.cli, s.deps)).rejects.toMatchObject({ exitCode: 2 });
    expect(existsSync(state)).toBe(false);
    expect(s.connected).toEqual([]);

    // a live holder (this very process) -> refused, nothing connected
    const { mkdirSync } = await import('node:fs');
    mkdirSync(state, { recursive: true });
    writeFileSync(path.join(state, 'lock'), JSON.stringify({ pid: process.pid, hostname: os.hostname(), command: 'up', startedAt: '2025-01-01T00:00:00.000Z' }));
    await expect(runCommand('up', s.inv, { playbook: s.pb, quiet: true }, c.cli, s.deps)).rejects.toMatchObject({
      code: 'locked',
      message: `another run holds the cluster lock: pid ${process.pid} on ${os.hostname()} (kubi-provision up) since 2025-01-01T00:00:00.000Z`,
    });
    expect(s.connected).toEqual([]);
  });

  it('registers plan and up with their options (commander parsing)', async () => {
    const s = setup();
    const c = capture();
    const program = new Command().exitOverride();
    register(program, c.cli, async () => s.deps);
    const runbook = path.join(s.dir, 'rb.md');
    const saved = process.exitCode;
    try {
      await program.parseAsync(['plan', s.inv, '--playbook', s.pb, '--quiet', '--only', 'clitest.write', '--only', 'clitest.maybe-fail', '--output', 'json', '--runbook', runbook, '--concurrency', '2'], { from: 'user' });
      expect(process.exitCode).toBe(0);
    } finally {
      process.exitCode = saved;
    }
    const json = JSON.parse(c.out()) as { steps: { id: string }[] };
    expect(json.steps.map((x) => x.id)).toEqual(['clitest.write', 'clitest.maybe-fail']);
    expect(existsSync(runbook)).toBe(true);
    expect(program.commands.map((x) => x.name())).toEqual(['plan', 'up']);
    expect(program.commands[1]!.options.map((o) => o.long)).not.toContain('--runbook');
  });
});
