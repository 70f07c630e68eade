/**
 * The remote sh programs (put/get) run here with the local /bin/sh (dash), exactly as sshd would
 * run them on a host: every branch of the put protocol, and get's missing-vs-denied rule.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chownSpec, GET_MISSING_EXIT, getArgv, modeString, PUT_MARK, putArgv, withRemoteTimeout } from '../../src/transport/remote-scripts.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-rs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Run put like the transport does: stdin carries the content only after the SEND marker (here: always, as a pipe). */
function put(file: string, content: string, o: { mode?: number; owner?: string; group?: string; skip?: boolean; size?: number } = {}) {
  const argv = putArgv({
    path: file,
    mode: o.mode ?? 0o644,
    ...(o.owner ? { owner: o.owner } : {}),
    ...(o.group ? { group: o.group } : {}),
    sha256: sha(content),
    size: o.size ?? Buffer.byteLength(content),
    skipIfSame: o.skip ?? true,
  });
  const r = spawnSync(argv[0]!, argv.slice(1), { input: content, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('put program', () => {
  it('writes a new file (SEND then DONE), with the mode, and leaves no temp file', () => {
    const f = path.join(dir, 'a.conf');
    const r = put(f, 'hello\n', { mode: 0o600 });
    expect(r).toMatchObject({ status: 0, stdout: `${PUT_MARK.send}\n${PUT_MARK.done}\n` });
    expect(readFileSync(f, 'utf8')).toBe('hello\n');
    expect(statSync(f).mode & 0o7777).toBe(0o600);
    expect(readdirSync(dir).filter((n) => n.startsWith('.kubi-put'))).toEqual([]);
  });

  it('says SAME when content, mode and owner match', () => {
    const f = path.join(dir, 'a.conf');
    expect(put(f, 'hello\n', { mode: 0o600, owner: 'root', group: 'root' }).stdout).toBe(`${PUT_MARK.same}\n`);
    expect(put(f, 'hello\n', { mode: 0o600, owner: '0' }).stdout).toBe(`${PUT_MARK.same}\n`);
    expect(put(f, 'hello\n', { mode: 0o600, group: 'root' }).stdout).toBe(`${PUT_MARK.same}\n`);
  });

  it('fixes mode and owner in place (META) without reading content', () => {
    const f = path.join(dir, 'a.conf');
    const inode = statSync(f).ino;
    expect(put(f, 'hello\n', { mode: 0o640, owner: 'nobody' }).stdout).toBe(`${PUT_MARK.meta}\n`);
    const st = statSync(f);
    expect(st.ino).toBe(inode);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.uid).not.toBe(0);
    expect(st.gid).toBe(0);
  });

  it('rewrites when skipIfSame is off, and when the content differs', () => {
    const f = path.join(dir, 'a.conf');
    expect(put(f, 'hello\n', { mode: 0o640, owner: 'nobody', skip: false }).stdout).toBe(`${PUT_MARK.send}\n${PUT_MARK.done}\n`);
    expect(put(f, 'changed\n', { mode: 0o640 }).stdout).toBe(`${PUT_MARK.send}\n${PUT_MARK.done}\n`);
    expect(readFileSync(f, 'utf8')).toBe('changed\n');
  });

  it('refuses a short transfer (the file keeps its old content, no temp left)', () => {
    const f = path.join(dir, 'a.conf');
    const r = put(f, 'new content\n', { size: 100 });
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/content arrived incomplete or changed \(12 of 100 bytes\)/);
    expect(readFileSync(f, 'utf8')).toBe('changed\n');
    expect(readdirSync(dir).filter((n) => n.startsWith('.kubi-put'))).toEqual([]);
  });

  it('reports a missing directory and a directory in the way', () => {
    expect(put(path.join(dir, 'nope', 'x'), 'x')).toMatchObject({ status: 3, stderr: expect.stringMatching(/directory .*nope does not exist/) });
    mkdirSync(path.join(dir, 'isdir'));
    expect(put(path.join(dir, 'isdir'), 'x')).toMatchObject({ status: 3, stderr: expect.stringMatching(/is a directory/) });
  });

  it('handles file names with spaces, quotes and leading dashes', () => {
    const f = path.join(dir, "-odd 'name' $x.txt");
    expect(put(f, 'odd\n').status).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('odd\n');
  });
});

describe('get program', () => {
  const get = (file: string, uid?: number) => {
    const argv = getArgv(file);
    return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(uid !== undefined ? { uid, gid: uid } : {}) });
  };

  it('prints the file, and says missing (exit 44) only when it really is', () => {
    writeFileSync(path.join(dir, 'g.txt'), 'data');
    expect(get(path.join(dir, 'g.txt'))).toMatchObject({ status: 0, stdout: 'data' });
    expect(get(path.join(dir, 'none.txt')).status).toBe(GET_MISSING_EXIT);
    expect(get(path.join(dir, 'no', 'such', 'dir', 'f')).status).toBe(GET_MISSING_EXIT);
  });

  it('reports a permission problem as an error, not as missing', () => {
    const locked = path.join(dir, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    writeFileSync(path.join(locked, 'f'), 'secret');
    chmodSync(dir, 0o755);
    const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
    const r = get(path.join(locked, 'f'), nobody);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Permission denied/);
  });
});

describe('helpers', () => {
  it('chownSpec and modeString', () => {
    expect(chownSpec('a', 'b')).toBe('a:b');
    expect(chownSpec('a')).toBe('a');
    expect(chownSpec(undefined, 'b')).toBe(':b');
    expect(chownSpec()).toBe('');
    expect(modeString(0o644)).toBe('644');
    expect(modeString(0o4755)).toBe('4755');
    expect(() => modeString(0o10000)).toThrow(RangeError);
  });

  it('withRemoteTimeout wraps in timeout(1) one second past the transport timer; 0 = none', () => {
    expect(withRemoteTimeout(['sleep', '9'], 2500)).toEqual(['timeout', '-k', '5', '4', 'sleep', '9']);
    expect(withRemoteTimeout(['true'], 0)).toEqual(['true']);
  });
});
