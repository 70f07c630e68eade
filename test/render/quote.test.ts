import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { parse as parseToml } from 'smol-toml';
import { envValue, execLine, kaString, kaWord, sh, toml, unitArg, yaml } from '../../src/render/quote.js';
import { KubiError } from '../../src/errors.js';
import { splitExec } from './helpers/unit-file.js';

const tricky = ['plain', '', 'two words', "it's", 'a"b', 'back\\slash', '$HOME', '`id`', '100%', 'semi;colon', ';', '*', '~', '-n', 'tab\there', 'ünï', 'new\nline', '0600', 'yes', 'null', '- item', 'a: b', '#hash', '{x}'];

describe('sh()', () => {
  it('round-trips through a real /bin/sh', () => {
    const samples = [...tricky, ...fc.sample(fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\u0000')), 150)];
    const script = samples.map((s) => `printf '%s\\0' ${sh(s)}`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    expect(out.split('\u0000').slice(0, -1)).toEqual(samples);
  });

  it('leaves plain words bare and refuses NUL', () => {
    expect(sh('/etc/etcd/pki/ca.crt')).toBe('/etc/etcd/pki/ca.crt');
    expect(sh('https://127.0.0.1:2379')).toBe('https://127.0.0.1:2379');
    expect(() => sh('a\u0000b')).toThrow(KubiError);
  });
});

describe('unitArg() / execLine()', () => {
  it('escapes %, $, quotes and backslashes the way systemd reads them back', () => {
    expect(unitArg('100%')).toBe('100%%');
    expect(unitArg('$HOME')).toBe('$$HOME');
    expect(unitArg('two words')).toBe('"two words"');
    expect(unitArg('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(unitArg(';')).toBe('";"');
    expect(unitArg('')).toBe('""');
    expect(() => unitArg('new\nline')).toThrow(KubiError);
  });

  it('property: any argv without control characters splits back into the same words', () => {
    const arg = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 5 }), (args) => {
        expect(splitExec(execLine(['/usr/local/bin/k3s', ...args]))).toEqual(['/usr/local/bin/k3s', ...args]);
      }),
      { numRuns: 300 },
    );
  });

  it('requires an absolute program path', () => {
    expect(() => execLine(['k3s', 'server'])).toThrow(/absolute path/);
    expect(() => execLine([])).toThrow(/absolute path/);
  });
});

describe('envValue()', () => {
  it('writes plain values bare, wraps spaces, refuses what systemd versions read differently', () => {
    expect(envValue('node1=https://10.0.0.1:2380,node2=https://10.0.0.2:2380')).toBe('node1=https://10.0.0.1:2380,node2=https://10.0.0.2:2380');
    expect(envValue('a b')).toBe('"a b"');
    for (const bad of ['$HOME', '`x`', 'a\\b', 'a"b', "a'b", 'a\nb']) expect(() => envValue(bad), bad).toThrow(KubiError);
  });
});

describe('yaml() and toml()', () => {
  it('property: strings read back unchanged, never as numbers, booleans or null', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...tricky), fc.string({ unit: 'grapheme', maxLength: 30 })), (s) => {
        expect(parseYaml(`k: ${yaml(s)}\nlist:\n  - ${yaml(s)}\n`)).toEqual({ k: s, list: [s] });
        expect(parseToml(`k = ${toml(s)}\nl = ${toml([s, s])}\n`)).toEqual({ k: s, l: [s, s] });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps numbers and booleans typed', () => {
    expect(parseYaml(`a: ${yaml(3)}\nb: ${yaml(true)}`)).toEqual({ a: 3, b: true });
    expect(parseToml(`a = ${toml(3)}\nb = ${toml(false)}`)).toEqual({ a: 3, b: false });
    expect(() => toml(1.5)).toThrow(KubiError);
  });
});

describe('keepalived words', () => {
  it('accepts addresses and names, refuses anything that could change the structure', () => {
    expect(kaWord('10.0.0.1/24')).toBe('10.0.0.1/24');
    expect(kaWord('eth0.100')).toBe('eth0.100');
    for (const bad of ['a b', '{', '}', '#x', '!x', '"x"', '']) expect(() => kaWord(bad), bad).toThrow(KubiError);
    expect(kaString('/etc/keepalived/check-apiserver.sh')).toBe('"/etc/keepalived/check-apiserver.sh"');
    expect(() => kaString('a"b')).toThrow(KubiError);
  });
});
