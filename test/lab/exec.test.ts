import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCommandError, LocalRunner, pasteable } from '../../src/lab/exec.js';
import { KubiError } from '../../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-exec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalRunner', () => {
  it('runs argv without a shell interpreting it, and logs command and output', async () => {
    const log = path.join(dir, 'a.log');
    const r = new LocalRunner(log);
    const out = await r.output(['printf', '%s|', 'a b', '$HOME', "it's"]);
    expect(out).toBe("a b|$HOME|it's|");
    const text = await readFile(log, 'utf8');
    expect(text).toContain("$ printf");
    expect(text).toContain("| a b|$HOME|it's|");
    expect(text).toMatch(/-> exit 0 in \d+ ms/);
  });

  it('passes stdin', async () => {
    expect(await new LocalRunner(null).output(['cat'], { input: 'hello\n' })).toBe('hello');
  });

  it('a failing command names the command, its exit code, stderr and the log', async () => {
    const log = path.join(dir, 'b.log');
    const err = await new LocalRunner(log).run(['sh', '-c', 'echo broken thing >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabCommandError);
    const e = err as LabCommandError;
    expect(e.code).toBe('lab-command');
    expect(e.message).toBe("lab command failed (exit 3): sh -c 'echo broken thing >&2; exit 3'");
    expect(e.commandExitCode).toBe(3);
    expect(e.hint).toContain('broken thing');
    expect(e.hint).toContain(log);
  });

  it('allowFailure returns the result instead', async () => {
    const r = await new LocalRunner(null).run(['sh', '-c', 'exit 4'], { allowFailure: true });
    expect(r.exitCode).toBe(4);
    expect(await new LocalRunner(null).succeeds(['false'])).toBe(false);
  });

  it('a timeout kills the command and says so', async () => {
    const err = await new LocalRunner(null).run(['sleep', '30'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubiError);
    expect((err as KubiError).code).toBe('lab-command-timeout');
    expect((err as KubiError).message).toMatch(/timed out after 0 s: sleep 30/);
  });

  it('quotes only what needs quoting in the pasteable form', () => {
    expect(pasteable(['ip', 'addr', 'replace', '10.77.0.1/24', 'dev', 'kbr0'])).toBe('ip addr replace 10.77.0.1/24 dev kbr0');
    expect(pasteable(['sh', '-c', 'a b'])).toBe("sh -c 'a b'");
  });
});

describe('pasteable', () => {
  it('round-trips through a real shell', async () => {
    const argv = ['printf', '[%s]', "it's", 'a b', '$x', '', '"q"'];
    const r = await new LocalRunner(null).run(['bash', '-c', pasteable(argv)]);
    expect(r.stdout).toBe(`[it's][a b][$x][]["q"]`);
  });
});
