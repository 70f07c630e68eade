/**
 * The engine end to end against REAL OpenSSH servers (test/harness/sshd.ts) through the real
 * wiring of `up` (src/cli/commands/run.ts with realDeps: inventory loader, SSH pool, facts):
 * a demo playbook of 12 file steps on 3 hosts, run three times.
 *  1st run: everything is written;
 *  2nd run: all up to date, not one mutating command in its run log, one read-only round trip
 *           per host and step (plus facts);
 *  3rd run, after changing one template: only that file is written, on every host.
 * Everything is written under a temp directory.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realDeps, runCommand } from '../../src/cli/commands/run.js';
import type { CliContext, Colors, Output } from '../../src/cli/output.js';
import { redactor } from '../../src/redact.js';
import { defaultRegistry } from '../../src/steps/registry.js';
import { SshdLab, type SshdServer } from '../harness/sshd.js';
import { demoSteps, type DemoTemplates } from './demo-steps.js';

const STEPS = 12;
const SECRET = `s3cret-${Math.random().toString(36).slice(2, 12)}-value`;
let lab: SshdLab;
let servers: SshdServer[];
let work: string;
let root: string;
let inventory: string;
let stateDir: string;
const templates: DemoTemplates = { text: new Map(), secretStep: 5, secretValue: SECRET };

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
function capture(): { cli: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const output: Output = { out: (t) => (out += t), err: (t) => (err += t), line: (t = '') => (out += t + '\n'), errLine: (t = '') => (err += t + '\n'), color: plain, errColor: plain };
  return { cli: { output, debug: false }, out: () => out, err: () => err };
}

function newestLog(): string {
  const dir = path.join(stateDir, 'runs');
  const name = readdirSync(dir).sort().pop()!;
  return readFileSync(path.join(dir, name), 'utf8');
}

/** Command entries of a run log: `<ts> <host> <read-only|mutating> exit=N ...` */
function commands(log: string): { host: string; kind: string; rest: string }[] {
  return [...log.matchAll(/^\S+ (\S+) (read-only|mutating) (exit=\S+ .*)$/gm)].map((m) => ({ host: m[1]!, kind: m[2]!, rest: m[3]! }));
}

async function up(): Promise<{ code: number; out: string; err: string; log: string }> {
  const c = capture();
  const t0 = Date.now();
  const code = await runCommand('up', inventory, { playbook: path.join(work, 'demo.yaml'), quiet: true }, c.cli, await realDeps());
  if (process.env.KUBI_SHOW_TIMING) console.log(`up took ${Date.now() - t0} ms\n${newestLog()}`);
  return { code, out: c.out(), err: c.err(), log: newestLog() };
}

beforeAll(async () => {
  lab = await SshdLab.create();
  servers = await Promise.all(['node1', 'node2', 'node3'].map((name) => lab.startSshd({ name })));
  work = mkdtempSync(path.join(lab.dir, 'work-'));
  root = path.join(work, 'hosts');
  stateDir = path.join(work, 'state');
  for (let n = 1; n <= STEPS; n++) templates.text.set(n, `# demo file <%- n %>\nhost = "<%- host %>"\nvalue = ${n * 7}\n`);
  defaultRegistry.register(...demoSteps(root, STEPS, templates));
  redactor.add(SECRET, 'demo-secret');
  writeFileSync(
    path.join(work, 'demo.yaml'),
    `name: demo\ndescription: ${STEPS} file steps\nsteps:\n${Array.from({ length: STEPS }, (_, i) => {
      const id = `demo.file-${String(i + 1).padStart(2, '0')}`;
      // a mix of selectors and strategies
      if (i % 4 === 1) return `  - id: ${id}\n    hosts: all\n    strategy: serial\n`;
      return `  - id: ${id}\n    hosts: all\n`;
    }).join('')}`,
  );
  inventory = path.join(work, 'inventory.yaml');
  writeFileSync(
    inventory,
    [
      'cluster:',
      '  name: demo',
      `  stateDir: ${stateDir}`,
      'endpoint:',
      '  mode: none',
      'ssh:',
      '  user: root',
      `  privateKey: ${lab.keys.plain}`,
      'hosts:',
      ...servers.flatMap((s, i) => [`  - name: ${s.name}`, `    address: ${s.address}`, `    roles: [${i === 0 ? 'etcd, server' : 'agent'}]`, '    ssh:', `      port: ${s.port}`]),
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await lab?.cleanup();
});

describe('demo playbook over real sshd', () => {
  it('first run writes every file; second run is up to date with no mutating command; a changed template rewrites only its file', async () => {
    const first = await up();
    expect(first.err).toMatch(/recorded the host key of node1/);
    expect(first.code, first.out + first.err).toBe(0);
    expect(first.out).toBe(`done: made ${STEPS * 3 + 6} changes on 3 hosts, 0 up to date (${STEPS} steps)\n`);
    for (const s of servers) {
      expect(readFileSync(path.join(root, s.name, 'demo', 'file-03.conf'), 'utf8')).toBe(`# demo file 3\nhost = "${s.name}"\nvalue = 21\n`);
      expect(statSync(path.join(root, s.name, 'demo', 'file-05.conf')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(root, s.name, 'demo')).mode & 0o777).toBe(0o750);
    }
    expect(commands(first.log).filter((c) => c.kind === 'mutating').length).toBeGreaterThanOrEqual(STEPS * 3);
    expect(first.log).not.toContain(SECRET);

    const second = await up();
    expect(second.code).toBe(0);
    expect(second.out).toBe(`up to date: ${STEPS} steps, ${STEPS * 3} host-steps, nothing to change\n`);
    const cmds = commands(second.log);
    expect(cmds.filter((c) => c.kind === 'mutating')).toEqual([]);
    expect(second.log).not.toMatch(/ mutating /);
    // one read-only round trip per host and step, plus the facts script
    for (const s of servers) expect(cmds.filter((c) => c.host === s.name)).toHaveLength(STEPS + 1);
    expect(second.log).not.toContain(SECRET);

    templates.text.set(7, '# demo file <%- n %>, changed\nhost = "<%- host %>"\n');
    const third = await up();
    expect(third.code).toBe(0);
    expect(third.out).toBe(`done: made 3 changes on 3 hosts, ${STEPS * 3 - 3} up to date (${STEPS} steps)\n`);
    const mutating = commands(third.log).filter((c) => c.kind === 'mutating');
    expect(mutating.map((c) => c.host).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const m of mutating) expect(m.rest).toContain(`${root}/${m.host}/demo/file-07.conf`);
    for (const s of servers) expect(readFileSync(path.join(root, s.name, 'demo', 'file-07.conf'), 'utf8')).toBe(`# demo file 7, changed\nhost = "${s.name}"\n`);
  });

  it('plan on the converged cluster prints "no changes" per host and step', async () => {
    const c = capture();
    const code = await runCommand('plan', inventory, { playbook: path.join(work, 'demo.yaml'), quiet: true, only: ['demo.file-01,demo.file-07'] }, c.cli, await realDeps());
    expect(code).toBe(0);
    expect(c.out()).toBe(
      'demo.file-01: Write demo file 01\n  node1: no changes (up to date)\n  node2: no changes (up to date)\n  node3: no changes (up to date)\n\n' +
        'demo.file-07: Write demo file 07\n  node1: no changes (up to date)\n  node2: no changes (up to date)\n  node3: no changes (up to date)\n\n' +
        'up to date: 2 steps, 6 host-steps, nothing to change\n',
    );
  });
});
