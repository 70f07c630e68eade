/**
 * The corpus of broken inventories (test/fixtures/inventories/invalid-*.yaml, one concern each):
 * the real CLI's `validate` must exit 2 and print exactly the issues written in each file's
 * `# expect: <line>:<col> <path|-> <message>` header (0:0 = the file as a whole), each followed
 * by a hint line, and never a stack trace.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, stackLines } from './run-cli.js';

const DIR = 'test/fixtures/inventories';

interface Expectation {
  line: number;
  col: number;
  path: string;
  message: string;
}

function expectations(text: string): Expectation[] {
  const out: Expectation[] = [];
  for (const m of text.matchAll(/^# expect: (\d+):(\d+) (\S+) (.+)$/gm)) {
    out.push({ line: Number(m[1]), col: Number(m[2]), path: m[3] === '-' ? '' : m[3]!, message: m[4]! });
  }
  return out;
}

function issueLine(file: string, e: Expectation): string {
  const where = e.line > 0 ? `${file}:${e.line}:${e.col}` : file;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

const files = readdirSync(path.join(ROOT, DIR))
  .filter((f) => /^invalid-.*\.yaml$/.test(f))
  .sort();

describe('invalid inventory corpus', () => {
  it('holds at least 30 distinct mistakes, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
    for (const f of files) expect(expectations(readFileSync(path.join(ROOT, DIR, f), 'utf8')), f).not.toEqual([]);
  });

  for (const f of files) {
    it(f, () => {
      const file = `${DIR}/${f}`;
      const expected = expectations(readFileSync(path.join(ROOT, file), 'utf8'));
      const r = runCli(['validate', file], { env: { NO_COLOR: '1' } });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(stackLines(r.stderr)).toEqual([]);
      const lines = r.stderr.split('\n');
      // every line that names the file is an issue (or the final summary)
      const issues = lines
        .map((l) => l.replace(/^error: /, ''))
        .filter((l) => l.startsWith(file) && !/: \d+ problems? in the inventory$/.test(l));
      expect(issues).toEqual(expected.map((e) => issueLine(file, e)));
      for (const issue of issues) {
        const i = lines.findIndex((l) => l.replace(/^error: /, '') === issue);
        expect(lines[i + 1], `hint after ${issue}`).toMatch(/^ {2}hint: \S/);
      }
    });
  }
});
