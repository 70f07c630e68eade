/**
 * Checksum records with the REAL bash and coreutils of this machine (no SSH): the executor's
 * record script writes a record only for what it can prove, and the observe script trusts a
 * record only while the file is untouched (a stale record is never used).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_MIN_BYTES, recordPath, recordScript } from '../../src/engine/checksum-records.js';
import { observeScript, parseObservation, type ObserveRequest } from '../../src/steps/lib/observe.js';

let dir: string;
let records: string;
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const bash = (script: string): string => {
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bash failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};
const observed = (file: string): string | undefined => {
  const req: ObserveRequest = { files: [file], recordDir: records };
  return parseObservation(bash(observeScript(req)), req).files.get(file)?.sha256;
};
/** a record claiming `claimed` for the file as it is now (to prove which source observe used) */
const forge = (file: string, claimed: string): void => {
  const id = spawnSync('stat', ['-L', '-c', '%d %i %s %.9Y %.9Z', '--', file], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(recordPath(file, records), `kubi-checksum 1 ${id} ${claimed}\n`);
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-records-'));
  records = path.join(dir, 'records');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checksum records (real bash)', () => {
  const big = Buffer.alloc(RECORD_MIN_BYTES + 10, 0x5a);

  it('records a large file with its identity and sha256, and observe then reads the record', () => {
    const f = path.join(dir, 'bin-a');
    writeFileSync(f, big);
    bash(recordScript([{ path: f, sha256: sha(big) }], records));
    const rec = readFileSync(recordPath(f, records), 'utf8');
    expect(rec).toMatch(new RegExp(`^kubi-checksum 1 \\d+ \\d+ ${big.length} \\d+\\.\\d{9} \\d+\\.\\d{9} ${sha(big)}\\n$`));
    expect(observed(f)).toBe(sha(big));
    // proof that observe takes the record and does not hash: a record for the same identity with another sha wins
    forge(f, 'f'.repeat(64));
    expect(observed(f)).toBe('f'.repeat(64));
  });

  it('never trusts a record once the file was written, chmod-ed or replaced', () => {
    const f = path.join(dir, 'bin-b');
    writeFileSync(f, big);
    forge(f, 'e'.repeat(64));
    expect(observed(f)).toBe('e'.repeat(64));
    appendFileSync(f, 'x');
    expect(observed(f)).toBe(sha(Buffer.concat([big, Buffer.from('x')])));

    forge(f, 'e'.repeat(64));
    chmodSync(f, 0o700); // ctime moves, content does not
    expect(observed(f)).toBe(sha(Buffer.concat([big, Buffer.from('x')])));

    forge(f, 'e'.repeat(64));
    const other = path.join(dir, 'bin-b.new');
    writeFileSync(other, big);
    renameSync(other, f); // a new inode
    expect(observed(f)).toBe(sha(big));
  });

  it('writes no record when the content is not the one uploaded, and ignores garbage records', () => {
    const f = path.join(dir, 'bin-c');
    writeFileSync(f, big);
    bash(recordScript([{ path: f, sha256: 'a'.repeat(64) }], records));
    expect(existsSync(recordPath(f, records))).toBe(false);
    writeFileSync(recordPath(f, records), `kubi-checksum 1 %.9Y garbage ${'b'.repeat(64)}\n`);
    expect(observed(f)).toBe(sha(big));
  });

  it('files without a record are hashed as before (small files, missing record directory)', () => {
    const f = path.join(dir, 'small.conf');
    writeFileSync(f, 'a = 1\n');
    const req: ObserveRequest = { files: [f], recordDir: path.join(dir, 'no-such-dir') };
    expect(parseObservation(bash(observeScript(req)), req).files.get(f)?.sha256).toBe(sha('a = 1\n'));
    expect(observed(f)).toBe(sha('a = 1\n'));
  });
});
