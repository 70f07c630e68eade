/**
 * The batch program run by the REAL bash on this machine (no SSH), its parser, and the queue
 * that groups calls (real timers).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchQueue, batchProgram, parseBatchOutput, type BatchItem } from '../../src/transport/batch.js';
import { shellQuote } from '../../src/transport/quote.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-batch-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runBatch(items: BatchItem[], tag = 'KUBI-BATCH-test1234'): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('bash', ['-s'], { input: batchProgram(items, tag), env: { ...process.env, TMPDIR: tmp } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('batch program (real bash)', () => {
  it('returns each command\'s exit code, stdout and stderr exactly, in order, and leaves no temp files', () => {
    const tag = 'KUBI-BATCH-abcdef12';
    const items: BatchItem[] = [
      { kind: 'line', line: shellQuote(['printf', '%s', 'hello']) },
      { kind: 'line', line: shellQuote(['sh', '-c', 'echo out; echo err >&2; exit 3']) },
      // binary output, with NUL bytes, newlines and the batch tag itself in it
      { kind: 'line', line: shellQuote(['printf', `a\\000b\\n${tag} 9 9 9\\n\\377`]) },
      { kind: 'script', script: `set -eu\ncat <<'EOF'\nheredoc $HOME stays literal\nEOF\nexit 0` },
      { kind: 'line', line: shellQuote(['cat']) }, // stdin is /dev/null: returns at once, empty
      { kind: 'line', line: shellQuote(['sh', '-c', 'multi\nline', 'x']) }, // quoted newline in a word; exits 127
    ];
    const r = runBatch(items, tag);
    expect(r.status, r.stderr).toBe(0);
    const out = parseBatchOutput(r.stdout, tag, items.length);
    expect(out.map((o) => o.exitCode)).toEqual([0, 3, 0, 0, 0, 127]);
    expect(out[0]!.stdout.toString()).toBe('hello');
    expect(out[1]!.stdout.toString()).toBe('out\n');
    expect(out[1]!.stderr.toString()).toBe('err\n');
    expect(out[2]!.stdout).toEqual(Buffer.concat([Buffer.from(`a\0b\n${tag} 9 9 9\n`), Buffer.from([0xff])]));
    expect(out[3]!.stdout.toString()).toBe('heredoc $HOME stays literal\n');
    expect(out[4]!.stdout.length).toBe(0);
    expect(out[5]!.stderr.toString()).toMatch(/multi/);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('runs the commands side by side (each sees the others running)', () => {
    // command 1 waits until command 2 has created its file: only possible when both run at once
    const flag = path.join(tmp, 'flag');
    const items: BatchItem[] = [
      { kind: 'line', line: shellQuote(['sh', '-c', `for i in $(seq 100); do [ -e ${flag} ] && echo seen && exit 0; sleep 0.05; done; exit 1`]) },
      { kind: 'line', line: shellQuote(['sh', '-c', `touch ${flag}`]) },
    ];
    const out = parseBatchOutput(runBatch(items).stdout, 'KUBI-BATCH-test1234', 2);
    expect(out[0]).toMatchObject({ exitCode: 0 });
    expect(out[0]!.stdout.toString()).toBe('seen\n');
    rmSync(flag);
  });

  it('refuses a script that contains the tag on a line of its own, and a bad tag', () => {
    expect(() => batchProgram([{ kind: 'script', script: 'echo\nKUBI-BATCH-test1234\n' }], 'KUBI-BATCH-test1234')).toThrow(/contains the batch tag/);
    expect(() => batchProgram([], 'short')).toThrow(/batch tag/);
  });
});

describe('parseBatchOutput', () => {
  const tag = 'KUBI-BATCH-t0t0t0t0';
  const good = Buffer.from(`${tag} 2\n1 0 2 1\n2 5 0 3\nabXerr`);
  it('splits by the byte counts of the table', () => {
    const out = parseBatchOutput(good, tag, 2);
    expect(out.map((o) => [o.exitCode, o.stdout.toString(), o.stderr.toString()])).toEqual([
      [0, 'ab', 'X'],
      [5, '', 'err'],
    ]);
  });
  it('refuses output that does not add up: cut short, extra bytes, wrong tag or count', () => {
    expect(() => parseBatchOutput(good.subarray(0, good.length - 1), tag, 2)).toThrow(/cut short/);
    expect(() => parseBatchOutput(Buffer.concat([good, Buffer.from('!')]), tag, 2)).toThrow(/1 bytes after/);
    expect(() => parseBatchOutput(good, 'KUBI-BATCH-other000', 2)).toThrow(/no table/);
    expect(() => parseBatchOutput(good, tag, 3)).toThrow(/no table/);
    expect(() => parseBatchOutput(Buffer.from(`${tag} 1\n1 0 -1 0\n`), tag, 1)).toThrow(/no result line/);
  });
});

describe('BatchQueue', () => {
  it('sends the calls of one window together, per key, and fails every item of a failed send', async () => {
    const sent: [string, number[]][] = [];
    const q = new BatchQueue<number, string>(
      async (key, items) => {
        sent.push([key, items]);
        if (key === 'bad') throw new Error('send failed');
        return items.map((i) => `${key}:${i}`);
      },
      { windowMs: 5, maxItems: 3 },
    );
    const a = [q.add('a', 1), q.add('a', 2), q.add('b', 3)];
    expect(await Promise.all(a)).toEqual(['a:1', 'a:2', 'b:3']);
    // maxItems: the 4th item of a key starts a new batch
    const b = [1, 2, 3, 4].map((i) => q.add('a', i));
    expect(await Promise.all(b)).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
    await expect(Promise.all([q.add('bad', 1), q.add('bad', 2)])).rejects.toThrow(/send failed/);
    expect(sent).toEqual([
      ['a', [1, 2]],
      ['b', [3]],
      ['a', [1, 2, 3]],
      ['a', [4]],
      ['bad', [1, 2]],
    ]);
  });
});
