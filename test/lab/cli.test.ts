/**
 * The `lab` command module as the CLI registers it (test/lab/lab-cli.mjs runs it from dist/):
 * help, usage errors (exit 2, nothing created), and the refusal without root. Nothing here
 * creates a lab.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = path.join(import.meta.dirname, 'lab-cli.mjs');
const run = (args: string[], pre: string[] = []) => {
  const argv = [...pre, process.execPath, CLI, 'lab', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('kubi-provision lab (command module)', () => {
  it('lists its subcommands', () => {
    const r = run(['--help']);
    for (const sub of ['up', 'down', 'status', 'ssh', 'rebuild', 'demo']) expect(r.out).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    const up = run(['up', '--help']);
    for (const opt of ['--nodes', '--backend', '--subnet', '--inventory', '--k3s-binary', '--no-install']) expect(up.out).toContain(opt);
  });

  it('bad input exits 2 and creates nothing', () => {
    const nodes = run(['up', '--name', 'kubiclitest', '--nodes', '0']);
    expect(nodes.code).toBe(2);
    expect(nodes.err).toContain('--nodes must be a whole number from 1 to 30');
    const subnet = run(['up', '--name', 'kubiclitest', '--subnet', '8.8.8.0/24']);
    expect(subnet.code).toBe(2);
    expect(subnet.err).toContain('not a private range');
    const backend = run(['up', '--name', 'kubiclitest', '--backend', 'docker']);
    expect(backend.code).toBe(2);
    expect(existsSync('/var/lib/kubi-provision/lab/kubiclitest')).toBe(false);
    expect(existsSync('/run/netns/kubiclitest')).toBe(false);
  });

  it('says it needs root when it is not root', () => {
    if (process.getuid?.() !== 0) throw new Error('this test drops privileges with setpriv and must run as root (as CI does)');
    const r = run(['up', '--name', 'kubiclitest'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('kubi-provision lab up needs root');
    expect(r.err).toContain('sudo');
  });

  it('status of a lab that does not exist', () => {
    const r = run(['status', '--name', 'kubiclitest']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('lab kubiclitest is not up');
  });
});
