/** Colour decisions and the output helpers. */
import { describe, expect, it } from 'vitest';
import { colorEnabled, createColors, createOutput, stripAnsi } from '../../src/cli/output.js';

describe('colorEnabled', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  it('a TTY gets colours, a pipe does not', () => {
    expect(colorEnabled(tty, { env: {} })).toBe(true);
    expect(colorEnabled(pipe, { env: {} })).toBe(false);
    expect(colorEnabled({}, { env: {} })).toBe(false);
  });
  it('NO_COLOR (non-empty) and --no-color turn them off, also on a TTY and over FORCE_COLOR', () => {
    expect(colorEnabled(tty, { env: { NO_COLOR: '1' } })).toBe(false);
    expect(colorEnabled(tty, { env: { NO_COLOR: '' } })).toBe(true);
    expect(colorEnabled(tty, { env: {}, noColor: true })).toBe(false);
    expect(colorEnabled(pipe, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } })).toBe(false);
  });
  it('FORCE_COLOR turns them on for a pipe; TERM=dumb off for a TTY', () => {
    expect(colorEnabled(pipe, { env: { FORCE_COLOR: '1' } })).toBe(true);
    expect(colorEnabled(pipe, { env: { FORCE_COLOR: '0' } })).toBe(false);
    expect(colorEnabled(tty, { env: { TERM: 'dumb' } })).toBe(false);
  });
});

describe('output', () => {
  it('colours wrap text only when enabled; stripAnsi removes them', () => {
    expect(createColors(false).red('x')).toBe('x');
    const red = createColors(true).red('x');
    expect(red).toBe('\x1b[31mx\x1b[39m');
    expect(stripAnsi(red)).toBe('x');
  });
  it('writes results to stdout and diagnostics to stderr, deciding colours per stream', () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = createOutput({
      stdout: { write: (s: string) => out.push(s), isTTY: true },
      stderr: { write: (s: string) => err.push(s), isTTY: false },
      env: {},
    });
    o.line('a');
    o.errLine('b');
    o.out('c');
    expect(out).toEqual(['a\n', 'c']);
    expect(err).toEqual(['b\n']);
    expect(o.color.enabled).toBe(true);
    expect(o.errColor.enabled).toBe(false);
  });
});
