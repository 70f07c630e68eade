/**
 * Hostile inventory files (issue 10): alias bombs, huge and pathological documents, and files
 * that are not files, given to the real CLI. Each must be refused with exit 2 and a clear one-line
 * error, within a bound (the child is killed at the bound: that is a bound on hanging, not a speed
 * check) and within a small heap (256 MiB: an expansion that builds the bomb crashes instead).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliBounded } from './helpers.js';

/** A bound on hanging: far above the sub-second a refusal takes, far below "forever". */
const BOUND_MS = 20_000;
const HEAP_MIB = 256;

const HEAD = `cluster:
  name: bomb
endpoint:
  vip: 10.0.0.100
hosts:
  - { name: a, address: 10.0.0.11, roles: [etcd, server] }
`;

function billionLaughs(levels: number, width: number): string {
  const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
  for (let i = 1; i <= levels; i++) lines.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
  return HEAD + lines.join('\n') + '\n';
}

function mapBomb(levels: number): string {
  const lines = ['m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol}'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`m${i}: &m${i} {${['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => `${k}: *m${i - 1}`).join(', ')}}`);
  }
  return HEAD + lines.join('\n') + '\n';
}

function mergeKeyBomb(levels: number): string {
  const lines = ['k0: &k0 {a: 1}'];
  for (let i = 1; i <= levels; i++) lines.push(`k${i}: &k${i} {${Array.from({ length: 9 }, (_, j) => `x${j}: *k${i - 1}`).join(', ')}, <<: *k${i - 1}}`);
  return HEAD + lines.join('\n') + '\n';
}

interface Case {
  name: string;
  /** file content, or a function that makes the path itself (special files) */
  content?: string | Buffer;
  make?: (dir: string) => string;
  expect: RegExp;
}

const CASES: Case[] = [
  { name: 'billion laughs (9 levels of 9, sequences)', content: billionLaughs(9, 9), expect: /too many alias expansions/ },
  { name: 'billion laughs (30 levels of 2)', content: billionLaughs(30, 2), expect: /too many alias expansions/ },
  { name: 'mapping bomb (8 levels of 8)', content: mapBomb(8), expect: /too many alias expansions/ },
  { name: 'merge-key bomb', content: mergeKeyBomb(12), expect: /too many alias expansions|merge|unknown key|not allowed/i },
  {
    name: 'one 900 KB anchor aliased 99 times (quadratic size, under the alias count)',
    content: `${HEAD}big: &big "${'A'.repeat(900_000)}"\n${Array.from({ length: 99 }, (_, i) => `c${i}: *big`).join('\n')}\n`,
    expect: /too large|unknown key|alias/i,
  },
  { name: 'just over the 1 MiB limit', content: HEAD + `# ${'x'.repeat(1024 * 1024)}\n`, expect: /too large .*at most 1048576 bytes/ },
  { name: '200 MB sparse file', make: (d) => sparse(d, 200 * 1024 * 1024), expect: /too large/ },
  { name: 'nested 200 000 flow sequences', content: `x: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`, expect: /nested too deeply|yaml:/ },
  { name: 'nested 100 000 block mappings (within 1 MiB)', content: nestedBlocks(100_000), expect: /yaml:|too large|nested/ },
  { name: 'one 1 MB line', content: `cluster: {name: "${'a'.repeat(1_040_000)}"}\n`, expect: /cluster\.name|too large/ },
  { name: '15 000 hosts (cross-host rules on a large list)', content: manyHosts(15_000), expect: /hosts|pod|subnet|etcd/i },
  { name: '40 000 unknown keys', content: manyKeys(40_000), expect: /unknown key|not allowed|unrecognized/i },
  { name: 'duplicate keys', content: `${HEAD}cluster:\n  name: twice\n`, expect: /duplicate|unique/i },
  { name: 'two documents', content: `${HEAD}---\n${HEAD}`, expect: /YAML documents/ },
  { name: 'a custom tag (!!js/function)', content: `${HEAD}x: !!js/function "function () { require('fs').writeFileSync('/tmp/kubi-pwned', '') }"\n`, expect: /tag|unknown key/i },
  { name: 'binary garbage', content: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), expect: /yaml:|inventory|mapping/i },
  { name: 'NUL bytes', content: `${HEAD}\0\0\0\n`, expect: /yaml:|inventory/i },
  { name: 'invalid UTF-8', content: Buffer.concat([Buffer.from(HEAD), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x0a])]), expect: /yaml:|unknown key|inventory/i },
  { name: 'a directory', make: (d) => d, expect: /is a directory/ },
  { name: 'a FIFO (would block a reader forever)', make: (d) => fifo(d), expect: /not a regular file/ },
  { name: '/dev/zero (endless)', make: () => '/dev/zero', expect: /not a regular file/ },
  { name: '/dev/urandom via a symlink', make: (d) => link(d, '/dev/urandom'), expect: /not a regular file/ },
  { name: 'a symlink loop', make: (d) => loop(d), expect: /cannot read|no such|loop/i },
  { name: 'an empty file', content: '', expect: /empty/ },
];

function sparse(dir: string, size: number): string {
  const f = path.join(dir, 'sparse.yaml');
  writeFileSync(f, HEAD);
  execFileSync('truncate', ['-s', String(size), f]);
  return f;
}
function fifo(dir: string): string {
  const f = path.join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [f]);
  return f;
}
function link(dir: string, target: string): string {
  const f = path.join(dir, `link-${path.basename(target)}.yaml`);
  symlinkSync(target, f);
  return f;
}
function loop(dir: string): string {
  const a = path.join(dir, 'loop-a.yaml');
  const b = path.join(dir, 'loop-b.yaml');
  symlinkSync(b, a);
  symlinkSync(a, b);
  return a;
}
function nestedBlocks(n: number): string {
  // "a:\n b:\n  c:..." grows quadratically with indentation: stop at the 1 MiB limit
  const out: string[] = [];
  let size = 0;
  for (let i = 0; i < n && size < 1_000_000; i++) {
    const line = `${' '.repeat(i)}k${i}:\n`;
    size += line.length;
    out.push(line);
  }
  return out.join('');
}
function manyHosts(n: number): string {
  const lines = ['cluster: {name: big}', 'endpoint: {vip: 10.0.0.1}', 'hosts:'];
  for (let i = 0; i < n; i++) lines.push(`  - {name: h${i}, address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 0}, roles: [etcd, server]}`);
  return lines.join('\n') + '\n';
}
function manyKeys(n: number): string {
  return HEAD + Array.from({ length: n }, (_, i) => `u${i}: 1`).join('\n') + '\n';
}

describe('hostile inventory files are refused quickly, clearly, within a small heap', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-yaml-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [n, c] of CASES.entries()) {
    it(`${c.name}: exit 2 with a clear error, no hang, no crash`, () => {
      let file: string;
      if (c.make) {
        const sub = path.join(dir, `case-${n}`);
        execFileSync('mkdir', ['-p', sub]);
        file = c.make(sub);
      } else {
        file = path.join(dir, `case-${n}.yaml`);
        writeFileSync(file, c.content ?? '');
      }
      const r = runCliBounded(['validate', file], { boundMs: BOUND_MS, heapMiB: HEAP_MIB });
      expect(r.hung, `validate ${c.name} was still running after ${BOUND_MS} ms`).toBe(false);
      expect(r.signal, `validate ${c.name} died: ${r.stderr.slice(-400)}`).toBeNull();
      expect(r.status, r.stderr.slice(0, 600)).toBe(2);
      expect(r.stderr).toMatch(c.expect);
      // a clear error: no stack trace, no internal error, and not a flood of output
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
      expect(r.stderr).not.toMatch(/internal error/i);
      expect(r.stderr.length, 'error output is bounded').toBeLessThan(64 * 1024);
    }, BOUND_MS + 10_000);
  }

  it('`plan` and `up` refuse an alias bomb the same way (before connecting to anything)', () => {
    const file = path.join(dir, 'bomb-run.yaml');
    writeFileSync(file, billionLaughs(9, 9));
    for (const cmd of ['plan', 'up']) {
      const r = runCliBounded([cmd, file], { boundMs: BOUND_MS, heapMiB: HEAP_MIB, cwd: dir });
      expect(r.hung).toBe(false);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/too many alias expansions/);
    }
  }, 2 * BOUND_MS + 10_000);
});
