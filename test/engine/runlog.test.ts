import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog, logTimestamp, pruneRunLogs } from '../../src/engine/runlog.js';
import { runPlaybook } from '../../src/engine/run.js';
import { Redactor } from '../../src/redact.js';
import type { Step } from '../../src/engine/types.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../src/transport/types.js';
import { cluster, fakeHosts, fileStep, playbookOf, registryWith, threeNodes } from './helpers.js';

const TOKEN = 'K10-cluster-token-0123456789abcdef';

/** Route a FakeHost's commands into the log the way the real transport does (CommandLogSink). */
function logged(remote: RemoteHost, log: RunLog): RemoteHost {
  const wrap =
    (fn: (...a: never[]) => Promise<ExecResult>, render: (a: unknown[]) => string) =>
    async (...args: unknown[]): Promise<ExecResult> => {
      const opts = (args[1] ?? {}) as ExecOptions;
      const res = await (fn as (...a: unknown[]) => Promise<ExecResult>).apply(remote, args);
      log.command({ host: remote.name, command: render(args), exitCode: res.exitCode, durationMs: res.durationMs, stdout: res.stdout, stderr: res.stderr, mutating: opts.mutating === true, ...(opts.label ? { label: opts.label } : {}) });
      return res;
    };
  return Object.assign(Object.create(remote) as RemoteHost, {
    exec: wrap(remote.exec as never, (a) => (a[0] as string[]).join(' ')),
    script: wrap(remote.script as never, () => 'bash -s'),
  });
}

describe('run log', () => {
  it('is 0600 in a 0700 runs/ dir, named <ISO timestamp>-<command>.log, and redacts registered secrets', async () => {
    const state = mkdtempSync(path.join(os.tmpdir(), 'kubi-runlog-'));
    const redactor = new Redactor();
    redactor.add(TOKEN, 'token');
    const log = RunLog.open(state, { command: 'up', now: () => new Date('2025-05-06T07:08:09.010Z'), redactor });
    expect(path.basename(log.path)).toBe('2025-05-06T07-08-09.010Z-up.log');
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(state, 'runs')).mode & 0o777).toBe(0o700);

    let joined = false;
    const join: Step<null> = {
      id: 'k3s.join',
      title: 'Join',
      check: async () => null,
      // converged once applied, so the re-check passes
      plan: () => (joined ? [] : [{ kind: 'command', title: `join with ${TOKEN}`, argv: ['true'] }]),
      apply: async (_c, ctx) => {
        ctx.report(`using token ${TOKEN}`);
        await ctx.remote.exec(['true'], { mutating: true, label: `k3s agent --token ${TOKEN}` });
        joined = true;
      },
    };
    const write = fileStep('demo.file', '/etc/demo/f', () => 'content\n');
    const inv = threeNodes();
    const hosts = new Map([...fakeHosts(inv)].map(([n, h]) => [n, logged(h, log)]));
    await runPlaybook({
      playbook: playbookOf(registryWith(join, write), 'name: up\nsteps:\n  - id: demo.file\n    names: [node1]\n  - id: k3s.join\n    names: [node1]\n'),
      cluster: cluster(inv, 'apply'),
      remotes: hosts,
      onEvent: log.engineEvent,
    });
    log.event('node1', `event mentioning ${TOKEN}`);
    log.close();
    const text = readFileSync(log.path, 'utf8');
    expect(text).not.toContain(TOKEN);
    expect(text).toContain('<redacted:token>');
    expect(text).toMatch(/^2025-05-06T07:08:09\.010Z node1 read-only exit=0 1ms \[observe files and units\] bash -s\n {4}out\| kubi-observe 1$/m);
    expect(text).toMatch(/^2025-05-06T07:08:09\.010Z node1 mutating exit=0 1ms \[create directory \/etc\/demo\] install -d -m 0755 -- \/etc\/demo$/m);
    expect(text).toMatch(/^.* - step-start demo\.file: Write \/etc\/demo\/f \[parallel\] on node1$/m);
    expect(text).toMatch(/^.* node1 host-result demo\.file: changed \(2 changes, 1ms\)\n {4}- create directory \/etc\/demo \(0755\)\n {4}- create file \/etc\/demo\/f \(0644\)$/m);
    expect(text).toMatch(/^.* node1 k3s\.join: using token <redacted:token>$/m);
    expect(text).toMatch(/^.* - run-end ok \(\d+ms\)$/m);
  });

  it('keeps only the newest N logs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-runlog-prune-'));
    const runs = path.join(dir, 'runs');
    mkdirSync(runs);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(runs, `${logTimestamp(new Date(Date.UTC(2025, 0, 1, 0, 0, i)))}-up.log`), '');
    writeFileSync(path.join(runs, 'notes.txt'), '');
    const log = RunLog.open(dir, { command: 'plan', keep: 3, now: () => new Date(Date.UTC(2025, 0, 2)) });
    log.close();
    expect(readdirSync(runs).sort()).toEqual([
      '2025-01-01T00-00-03.000Z-up.log',
      '2025-01-01T00-00-04.000Z-up.log',
      '2025-01-02T00-00-00.000Z-plan.log',
      'notes.txt',
    ]);
    expect(pruneRunLogs(runs, 1)).toEqual(['2025-01-01T00-00-03.000Z-up.log', '2025-01-01T00-00-04.000Z-up.log']);
  });

  it('two runs in the same millisecond get distinct files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-runlog-same-'));
    const now = () => new Date(Date.UTC(2025, 0, 1));
    const a = RunLog.open(dir, { command: 'up', now });
    const b = RunLog.open(dir, { command: 'up', now });
    expect(a.path).not.toBe(b.path);
    a.close();
    b.close();
  });
});
