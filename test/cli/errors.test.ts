/** The one error handler: output and exit code per kind of error; stacks only with --debug; redaction. */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/errors.js';
import { createOutput } from '../../src/cli/output.js';
import { KubiError, NotImplementedError, UsageError } from '../../src/errors.js';
import { InventoryError } from '../../src/inventory/errors.js';
import { redactor } from '../../src/redact.js';

function capture(err: unknown, debug = false): { code: number; text: string } {
  const lines: string[] = [];
  const output = createOutput({ stdout: { write: () => true }, stderr: { write: (s: string) => lines.push(s) }, env: {} });
  const code = reportError(err, output, { debug });
  return { code, text: lines.join('') };
}

const stack = (t: string) => t.split('\n').filter((l) => /^\s{4}at /.test(l));

describe('reportError', () => {
  it('inventory errors: one line per issue with a hint, a summary, exit 2, no stack', () => {
    const err = new InventoryError('inv.yaml', [
      { file: 'inv.yaml', line: 3, col: 5, path: 'hosts[0].address', message: 'duplicate address 10.0.0.1 (also hosts[1])', hint: 'fix it' },
      { file: 'inv.yaml', line: 1, col: 1, path: 'netwrk', message: 'unknown key "netwrk"', hint: 'did you mean "network"?' },
    ]);
    const { code, text } = capture(err);
    expect(code).toBe(2);
    expect(text).toBe(
      [
        'inv.yaml:1:1: netwrk: unknown key "netwrk"',
        '  hint: did you mean "network"?',
        'inv.yaml:3:5: hosts[0].address: duplicate address 10.0.0.1 (also hosts[1])',
        '  hint: fix it',
        'error: inv.yaml: 2 problems in the inventory',
        '',
      ].join('\n'),
    );
  });

  it('a whole-file inventory problem is printed as the error itself', () => {
    const { code, text } = capture(new InventoryError('x.yaml', [{ file: 'x.yaml', line: 0, col: 0, path: '', message: 'no such file', hint: 'check the path' }]));
    expect(code).toBe(2);
    expect(text).toBe('error: x.yaml: no such file\n  hint: check the path\n');
  });

  it('KubiErrors keep their exit code and show host, step, hint', () => {
    const e = new KubiError('etcd-unhealthy', 'etcd did not become healthy', { host: 'pi-1', step: 'etcd.start', hint: 'see journalctl -u etcd' });
    const { code, text } = capture(e);
    expect(code).toBe(1);
    expect(text).toBe('error: pi-1: etcd.start: etcd did not become healthy\n  hint: see journalctl -u etcd\n');
    expect(capture(new UsageError('bad flag')).code).toBe(2);
    expect(capture(new NotImplementedError('up')).text).toContain('error: up is not built yet');
  });

  it('internal errors: exit 1, a hint to use --debug; the stack only with --debug', () => {
    const plain = capture(new TypeError('x is undefined'));
    expect(plain.code).toBe(1);
    expect(plain.text).toContain('internal error: x is undefined');
    expect(plain.text).toContain('--debug');
    expect(stack(plain.text)).toEqual([]);
    const debug = capture(new TypeError('x is undefined', { cause: new Error('root cause') }), true);
    expect(stack(debug.text).length).toBeGreaterThan(0);
    expect(debug.text).toContain('caused by: Error: root cause');
    expect(capture('a string was thrown').text).toContain('internal error: a string was thrown');
  });

  it('commander errors: already printed, mapped to 0 (help/version) or 2 (usage)', () => {
    expect(capture(new CommanderError(1, 'commander.unknownCommand', 'x')).code).toBe(2);
    expect(capture(new CommanderError(1, 'commander.missingArgument', 'x')).text).toBe('');
    expect(capture(new CommanderError(0, 'commander.helpDisplayed', 'x')).code).toBe(0);
  });

  it('secrets registered with the redactor never reach the output', () => {
    redactor.add('K10abcdef-secret-token', 'token');
    const { text } = capture(new KubiError('join', 'join failed with token K10abcdef-secret-token', { hint: 'token K10abcdef-secret-token' }));
    expect(text).not.toContain('K10abcdef-secret-token');
    expect(text).toContain('<redacted:token>');
  });
});
