/** Usage errors exit 2, --version and --help work, colours obey NO_COLOR/TTY, no command is a placeholder. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANSI, ROOT, runCli, stackLines } from './run-cli.js';

const COMMANDS = ['validate', 'plan', 'up', 'verify', 'kubeconfig', 'replace', 'remove', 'reset', 'backup', 'restore', 'lab', 'schema', 'forget-host'];

describe('usage errors exit 2', () => {
  it('an unknown command', () => {
    const r = runCli(['deploy', 'inventories/homelab.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'deploy'");
  });

  it('a misspelt command suggests the right one', () => {
    const r = runCli(['valdate', 'inventories/homelab.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('validate');
  });

  it('a missing inventory argument', () => {
    for (const cmd of ['validate', 'up', 'plan', 'forget-host']) {
      const r = runCli([cmd]);
      expect(r.status, cmd).toBe(2);
      expect(r.stderr, cmd).toContain("missing required argument 'inventory'");
    }
  });

  it('an unknown flag', () => {
    const r = runCli(['validate', '--frobnicate', 'inventories/homelab.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });

  it('no command at all prints help to stderr', () => {
    const r = runCli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Usage: kubi-provision');
  });

  it('a missing inventory file is invalid input, without a stack trace', () => {
    const r = runCli(['validate', 'inventories/does-not-exist.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error: inventories/does-not-exist.yaml: no such file');
    expect(stackLines(r.stderr)).toEqual([]);
  });
});

describe('version and help', () => {
  it('--version prints the version from package.json', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = runCli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('--help lists every command and the exit codes', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    for (const cmd of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    expect(r.stdout).toContain('Exit codes:');
    expect(r.stdout).toMatch(/^ {2}2 {2}invalid input or usage/m);
  });

  for (const cmd of COMMANDS) {
    it(`${cmd} --help`, () => {
      const r = runCli([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: kubi-provision ${cmd}`);
    });
  }
});

describe('every command is real', () => {
  for (const [cmd, extra] of [
    ['plan', []],
    ['up', []],
    ['verify', []],
    ['kubeconfig', []],
    ['replace', ['pi-1']],
    ['remove', ['pi-1']],
    ['reset', []],
    ['backup', []],
    ['restore', ['snap.db']],
    ['forget-host', ['pi-1']],
  ] as Array<[string, string[]]>) {
    it(`${cmd} is built: its help no longer says "not built yet"`, () => {
      // every command of issue 2's list is now real; a stub would say so in its help
      const help = runCli([cmd, '--help']).stdout.replace(/\s+/g, ' ');
      expect(help).not.toContain('[not built yet]');
      expect(help).toContain(cmd);
    });

    it(`${cmd} on an invalid inventory exits 2 (the inventory is checked first)`, () => {
      const r = runCli([cmd, 'test/fixtures/inventories/invalid-duplicate-name.yaml', ...extra], { env: { NO_COLOR: '1' } });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('duplicate host name "pi-2"');
      expect(r.stderr).not.toContain('not built yet');
    });
  }
});

describe('colours', () => {
  const broken = 'test/fixtures/inventories/invalid-duplicate-name.yaml';

  it('NO_COLOR=1: no ANSI escapes in errors or help', () => {
    for (const args of [['validate', broken], ['--help'], ['validate', 'inventories/homelab.yaml'], ['bogus']]) {
      const r = runCli(args, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
      expect(r.stdout + r.stderr, args.join(' ')).not.toMatch(ANSI);
    }
  });

  it('a pipe (not a TTY) gets no colours by default', () => {
    const r = runCli(['validate', broken]);
    expect(r.stderr).not.toMatch(ANSI);
  });

  it('FORCE_COLOR=1 does colour (so the tests above can fail)', () => {
    const r = runCli(['validate', broken], { env: { FORCE_COLOR: '1' } });
    expect(r.stderr).toMatch(ANSI);
  });

  it('--no-color wins over FORCE_COLOR', () => {
    const r = runCli(['validate', broken, '--no-color'], { env: { FORCE_COLOR: '1' } });
    expect(r.stderr).not.toMatch(ANSI);
    expect(r.status).toBe(2);
  });
});

describe('--debug', () => {
  it('shows the stack of an inventory error only with --debug', () => {
    const broken = 'test/fixtures/inventories/invalid-duplicate-name.yaml';
    expect(stackLines(runCli(['validate', broken]).stderr)).toEqual([]);
    const r = runCli(['--debug', 'validate', broken]);
    expect(r.status).toBe(2);
    expect(stackLines(r.stderr).length).toBeGreaterThan(0);
  });
});
