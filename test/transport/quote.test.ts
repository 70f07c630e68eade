import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KubiError } from '../../src/errors.js';
import { quoteWord, shellQuote } from '../../src/transport/quote.js';

/** Let real bash split the quoted line and print every word NUL-terminated. */
function bashRoundTrip(argv: readonly string[]): string[] {
  // a fixed first word, so an empty argv still prints something to split
  const line = `printf '%s\\0' START ${shellQuote(argv)}`;
  const r = spawnSync('bash', ['-c', line], { encoding: 'buffer' });
  if (r.status !== 0) throw new Error(`bash failed (${r.status}): ${r.stderr.toString()}`);
  const out = r.stdout.toString('utf8');
  const words = out.split('\0');
  words.pop(); // after the last terminator
  if (words.shift() !== 'START') throw new Error(`bash printed ${JSON.stringify(out)}`);
  return words;
}

describe('quoteWord', () => {
  it.each([
    ['plain', 'plain'],
    ['/etc/kubernetes/pki/ca.crt', '/etc/kubernetes/pki/ca.crt'],
    ['--data-dir=/var/lib/etcd', '--data-dir=/var/lib/etcd'],
    ['user@host:22', 'user@host:22'],
    ['a,b+c', 'a,b+c'],
  ])('leaves the safe word %s bare', (word, expected) => {
    expect(quoteWord(word)).toBe(expected);
  });

  it.each([
    ['', "''"],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$HOME', "'$HOME'"],
    ['`id`', "'`id`'"],
    ['$(id)', "'$(id)'"],
    ['a;b', "'a;b'"],
    ['a|b', "'a|b'"],
    ['a&b', "'a&b'"],
    ['*', "'*'"],
    ['?', "'?'"],
    ['[ab]', "'[ab]'"],
    ['~', "'~'"],
    ['~/x', "'~/x'"],
    ['{a,b}', "'{a,b}'"],
    ['!x', "'!x'"],
    ['#x', "'#x'"],
    ['=cmd', "'=cmd'"],
    ['a\nb', "'a\nb'"],
    ['tab\there', "'tab\there'"],
    ['back\\slash', "'back\\slash'"],
    ['"dq"', `'"dq"'`],
    ['a>b', "'a>b'"],
    ['ümlaut', "'ümlaut'"],
  ])('quotes %j', (word, expected) => {
    expect(quoteWord(word)).toBe(expected);
  });

  it('refuses a NUL byte with a KubiError', () => {
    expect(() => quoteWord('a\0b')).toThrow(KubiError);
    expect(() => shellQuote(['ok', '\0'])).toThrow(/NUL/);
  });
});

describe('shellQuote', () => {
  it('joins quoted words with single spaces', () => {
    expect(shellQuote(['systemctl', 'restart', 'etcd'])).toBe('systemctl restart etcd');
    expect(shellQuote(['sh', '-c', 'echo "$1"', 'x y'])).toBe(`sh -c 'echo "$1"' 'x y'`);
    expect(shellQuote([])).toBe('');
  });

  it('round-trips tricky argv through real bash', () => {
    const argv = ['', ' ', "'", "''", '\\', '\n', '$x', '"', '*', "a'b\"c$d`e`\\f", '-n', '--', '#', '~root', 'é漢🙂', '\x01\x1f\x7f'];
    expect(bashRoundTrip(argv)).toEqual(argv);
  });

  it('round-trips arbitrary argv through real bash (property)', () => {
    const noNul = (s: string) => !s.includes('\0');
    const specials = fc.constantFrom("'", '"', '\\', '$', '`', '!', '*', '?', '[', ']', '{', '}', '~', '#', ';', '&', '|', '<', '>', '(', ')', ' ', '\n', '\t', '=', '%');
    const word = fc.oneof(
      fc.string({ unit: 'binary-ascii' }),
      fc.string({ unit: 'grapheme' }),
      fc.array(fc.oneof(specials, fc.string({ unit: 'grapheme-ascii', maxLength: 3 }))).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(fc.array(word.filter(noNul), { maxLength: 6 }), (argv) => {
        expect(bashRoundTrip(argv)).toEqual(argv);
      }),
      { numRuns: 150 },
    );
  });

  it('also round-trips through dash (sh), the shell putFile runs under', () => {
    const argv = ["x'y", '$(id)', 'a b', '', '\\n'];
    const r = spawnSync('sh', ['-c', `printf '%s\\0' ${shellQuote(argv)}`], { encoding: 'utf8' });
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(argv);
  });
});
