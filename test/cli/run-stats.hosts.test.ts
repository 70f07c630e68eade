/**
 * `up --stats-json FILE` against REAL OpenSSH servers (test/harness/sshd.ts) through the real
 * wiring (runCommand + realDeps): the counters in the file are the transport's own, and the
 * uploaded bytes are exactly the file content that had to be sent (none on a converged re-run).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realDeps, runCommand } from '../../src/cli/commands/run.js';
import type { CliContext, Colors, Output } from '../../src/cli/output.js';
import type { RunStats } from '../../src/cli/run-stats.js';
import { defaultRegistry } from '../../src/steps/registry.js';
import { SshdLab, type SshdServer } from '../harness/sshd.js';
import { demoSteps, type DemoTemplates } from '../engine/demo-steps.js';

const STEPS = 4;
let lab: SshdLab;
let servers: SshdServer[];
let work: string;
let inventory: string;
const templates: DemoTemplates = { text: new Map() };

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
const quietCli = (): CliContext => {
  const output: Output = { out: () => undefined, err: () => undefined, line: () => undefined, errLine: () => undefined, color: plain, errColor: plain };
  return { output, debug: false };
};

async function up(statsFile: string): Promise<{ code: number; stats: RunStats }> {
  const code = await runCommand('up', inventory, { playbook: path.join(work, 'stats.yaml'), quiet: true, statsJson: statsFile }, quietCli(), await realDeps());
  return { code, stats: JSON.parse(readFileSync(statsFile, 'utf8')) as RunStats };
}

beforeAll(async () => {
  lab = await SshdLab.create();
  servers = await Promise.all(['st1', 'st2'].map((name) => lab.startSshd({ name })));
  work = mkdtempSync(path.join(lab.dir, 'stats-'));
  // a distinct step-id namespace from the engine's demo test: `stats.file-NN`
  for (let n = 1; n <= STEPS; n++) templates.text.set(n, `# stats file <%- n %> on <%- host %>\n${'x'.repeat(100 * n)}\n`);
  const steps = demoSteps(path.join(work, 'hosts'), STEPS, templates).map((s) => ({ ...s, id: s.id.replace(/^demo\./, 'stats.') }));
  defaultRegistry.register(...steps);
  writeFileSync(path.join(work, 'stats.yaml'), `name: stats\ndescription: stats test\nsteps:\n${steps.map((s) => `  - id: ${s.id}\n    hosts: all\n`).join('')}`);
  inventory = path.join(work, 'inventory.yaml');
  writeFileSync(
    inventory,
    [
      'cluster:',
      '  name: stats',
      `  stateDir: ${path.join(work, 'state')}`,
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

describe('up --stats-json', () => {
  it('counts connections, round trips and the file content uploaded; a converged re-run uploads nothing', async () => {
    const first = await up(path.join(work, 'first.json'));
    expect(first.code).toBe(0);
    expect(first.stats.ok).toBe(true);
    expect(first.stats.steps.map((s) => s.id)).toEqual(Array.from({ length: STEPS }, (_, i) => `stats.file-0${i + 1}`));
    for (const s of servers) {
      const h = first.stats.hosts[s.name]!;
      const expected = Array.from({ length: STEPS }, (_, i) => Buffer.byteLength(`# stats file ${i + 1} on ${s.name}\n${'x'.repeat(100 * (i + 1))}\n`)).reduce((a, b) => a + b, 0);
      expect(h.connections).toBe(1);
      expect(h.filesUploaded).toBe(STEPS);
      expect(h.bytesUploaded).toBe(expected);
      expect(h.bytesSent).toBeGreaterThan(expected); // commands and scripts travel too
      expect(h.roundTrips).toBeGreaterThan(STEPS * 2); // check, apply, re-check per step, plus facts
    }
    expect(first.stats.totals.filesUploaded).toBe(STEPS * servers.length);

    const second = await up(path.join(work, 'second.json'));
    expect(second.code).toBe(0);
    for (const s of servers) {
      const h = second.stats.hosts[s.name]!;
      expect(h).toMatchObject({ connections: 1, filesUploaded: 0, bytesUploaded: 0 });
      // facts, then every step's check at once in one batch (up checks first in plan mode); a
      // check that starts late may make a second batch, never one round trip per step
      expect(h.roundTrips).toBeGreaterThanOrEqual(2);
      expect(h.roundTrips).toBeLessThanOrEqual(3);
    }
    expect(second.stats.steps.every((s) => s.changed === 0)).toBe(true);
    expect(second.stats.timings.totalMs).toBeGreaterThanOrEqual(second.stats.timings.runMs);
  });
});
