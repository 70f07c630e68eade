/**
 * src/fs-atomic.ts on real files in temp dirs: content, modes (whatever the umask), replacement by
 * rename (never in place, never through a symlink), parents, and no temp file left behind, on
 * success and on failures provoked for real: a directory in the way of the rename, a parent that
 * is a file, a write cut off by a file-size limit (EFBIG), and, as the unprivileged user nobody,
 * a read-only directory and a sticky directory whose target belongs to root.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDir, renameAtomic, tempPathFor, writeFileAtomic } from '../src/fs-atomic.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** the compiled module (test/global-setup.ts builds dist/ first): what a child process imports */
const DIST_MODULE = path.join(root, 'dist', 'fs-atomic.js');
const NOBODY = 65534;

const made: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'kubi-fs-atomic-'));
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

// tests that change the umask get it back
let savedUmask: number;
beforeEach(() => {
  savedUmask = process.umask();
});
afterEach(() => {
  process.umask(savedUmask);
});

const mode = (p: string) => statSync(p).mode & 0o7777;

/** Run writeFileAtomic(file, content × repeat, mode) in a child process; returns the error code it hit or 'ok'. */
function writeInChild(args: { file: string; content: string; mode: number; repeat?: number }, opts: { uid?: number; shellPrefix?: string } = {}): string {
  const script = `
    const { writeFileAtomic } = await import(${JSON.stringify(DIST_MODULE)});
    const a = JSON.parse(process.env.KUBI_ARGS);
    try { await writeFileAtomic(a.file, a.content.repeat(a.repeat ?? 1), a.mode); process.stdout.write('ok'); }
    catch (e) { process.stdout.write(String(e.code)); }`;
  const node = [process.execPath, '--input-type=module', '-e', script];
  const env = { ...process.env, KUBI_ARGS: JSON.stringify(args) };
  const spawnOpts = { env, encoding: 'utf8' as const, ...(opts.uid === undefined ? {} : { uid: opts.uid }) };
  const r = opts.shellPrefix
    ? spawnSync('bash', ['-c', `${opts.shellPrefix}; exec "$@"`, 'bash', ...node], spawnOpts)
    : spawnSync(node[0]!, node.slice(1), spawnOpts);
  if (r.status !== 0) throw new Error(`child failed (${r.status} ${r.signal} ${r.error?.message ?? ''}): ${r.stderr}`);
  return r.stdout;
}

describe('writeFileAtomic', () => {
  it('writes the content with the mode asked for, whatever the umask, and leaves only the file', async () => {
    const dir = tempDir();
    process.umask(0o077);
    await writeFileAtomic(path.join(dir, 'ca.crt'), 'certificate\n', 0o644);
    process.umask(0o000);
    await writeFileAtomic(path.join(dir, 'ca.key'), new Uint8Array([1, 2, 3]), 0o600);
    await writeFileAtomic(path.join(dir, 'plain'), 'x');
    expect(readFileSync(path.join(dir, 'ca.crt'), 'utf8')).toBe('certificate\n');
    expect(mode(path.join(dir, 'ca.crt'))).toBe(0o644);
    expect([...readFileSync(path.join(dir, 'ca.key'))]).toEqual([1, 2, 3]);
    expect(mode(path.join(dir, 'ca.key'))).toBe(0o600);
    expect(mode(path.join(dir, 'plain'))).toBe(0o644); // the default
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'plain']);
  });

  it('replaces a file by rename: a hard link to the old one keeps the old content; the new mode applies', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'token');
    writeFileSync(file, 'old\n', { mode: 0o644 });
    linkSync(file, path.join(dir, 'old-link'));
    const before = statSync(file).ino;
    await writeFileAtomic(file, 'new\n', 0o600);
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(readFileSync(path.join(dir, 'old-link'), 'utf8')).toBe('old\n');
    expect(statSync(file).ino).not.toBe(before);
    expect(mode(file)).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['old-link', 'token']);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const dir = tempDir();
    const outside = path.join(tempDir(), 'victim');
    writeFileSync(outside, 'untouched\n');
    const file = path.join(dir, 'known_hosts');
    symlinkSync(outside, file);
    await writeFileAtomic(file, 'entries\n', 0o600);
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('entries\n');
    expect(readFileSync(outside, 'utf8')).toBe('untouched\n');
  });

  it('concurrent writes of one file: each lands whole, the last rename wins, no temp is left', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'state.json');
    const contents = Array.from({ length: 16 }, (_, i) => `${String(i).repeat(5000)}\n`);
    await Promise.all(contents.map((c) => writeFileAtomic(file, c, 0o600)));
    expect(contents).toContain(readFileSync(file, 'utf8'));
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('parentDirMode creates missing parents with that mode and leaves an existing parent alone', async () => {
    const dir = tempDir();
    process.umask(0o022);
    const nested = path.join(dir, 'a', 'b', 'known_hosts');
    await writeFileAtomic(nested, 'x\n', 0o600, { parentDirMode: 0o700 });
    expect(readFileSync(nested, 'utf8')).toBe('x\n');
    expect(mode(path.join(dir, 'a'))).toBe(0o700);
    expect(mode(path.join(dir, 'a', 'b'))).toBe(0o700);
    chmodSync(dir, 0o755);
    await writeFileAtomic(path.join(dir, 'f'), 'y', 0o644, { parentDirMode: 0o700 });
    expect(mode(dir)).toBe(0o755);
  });

  it('without parentDirMode a missing parent is an error and nothing is created', async () => {
    const dir = tempDir();
    await expect(writeFileAtomic(path.join(dir, 'missing', 'f'), 'x', 0o600)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a parent that is a file: fails with ENOTDIR, with or without parentDirMode', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'plain'), 'i am a file');
    await expect(writeFileAtomic(path.join(dir, 'plain', 'f'), 'x', 0o600)).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(writeFileAtomic(path.join(dir, 'plain', 'sub', 'f'), 'x', 0o600, { parentDirMode: 0o700 })).rejects.toMatchObject({
      code: expect.stringMatching(/^(ENOTDIR|EEXIST)$/),
    });
    expect(readdirSync(dir)).toEqual(['plain']);
    expect(readFileSync(path.join(dir, 'plain'), 'utf8')).toBe('i am a file');
  });

  it('a directory in the way of the rename: the temp file (already written) is removed and the directory kept', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'kubeconfig');
    mkdirSync(target);
    writeFileSync(path.join(target, 'inside'), 'keep');
    await expect(writeFileAtomic(target, 'apiVersion: v1\n', 0o600)).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) });
    expect(readdirSync(dir)).toEqual(['kubeconfig']);
    expect(readdirSync(target)).toEqual(['inside']);
  });

  it('a write cut off half way (file-size limit, EFBIG): the temp file is removed, the old file is intact', () => {
    const dir = tempDir();
    const file = path.join(dir, 'snapshot.db');
    writeFileSync(file, 'old snapshot\n', { mode: 0o600 });
    // RLIMIT_FSIZE of 4 KiB, SIGXFSZ ignored: write(2) fails with EFBIG after the temp file exists
    const got = writeInChild({ file, content: 'z', repeat: 200_000, mode: 0o600 }, { shellPrefix: "ulimit -f 4; trap '' XFSZ" });
    expect(got).toBe('EFBIG');
    expect(readFileSync(file, 'utf8')).toBe('old snapshot\n');
    expect(readdirSync(dir)).toEqual(['snapshot.db']);
  });

  describe('as the unprivileged user nobody', () => {
    /** a directory with `dirMode` (root's), inside a temp dir nobody may traverse */
    function dirWithMode(dirMode: number): string {
      const parent = tempDir();
      chmodSync(parent, 0o755);
      const d = path.join(parent, 'd');
      mkdirSync(d);
      chmodSync(d, dirMode);
      return d;
    }

    it('a read-only directory: EACCES, the target untouched (even though nobody may write the file itself), nothing created', () => {
      const ro = dirWithMode(0o755);
      writeFileSync(path.join(ro, 'pid'), '1\n');
      chmodSync(path.join(ro, 'pid'), 0o666);
      chmodSync(ro, 0o555);
      expect(writeInChild({ file: path.join(ro, 'pid'), content: '2\n', mode: 0o600 }, { uid: NOBODY })).toBe('EACCES');
      expect(readFileSync(path.join(ro, 'pid'), 'utf8')).toBe('1\n');
      expect(readdirSync(ro)).toEqual(['pid']);
    });

    it("a sticky directory and root's target: the rename is refused (EPERM) after the temp was written, and the temp is removed", () => {
      const sticky = dirWithMode(0o1777);
      writeFileSync(path.join(sticky, 'config'), 'root owns this\n', { mode: 0o644 });
      expect(writeInChild({ file: path.join(sticky, 'config'), content: 'nobody was here\n', mode: 0o644 }, { uid: NOBODY })).toBe('EPERM');
      expect(readFileSync(path.join(sticky, 'config'), 'utf8')).toBe('root owns this\n');
      expect(readdirSync(sticky)).toEqual(['config']);
    });

    it('a directory it may write but not read (0733): the write succeeds; only the directory fsync is skipped', () => {
      const report = path.join(dirWithMode(0o733), 'report');
      expect(writeInChild({ file: report, content: 'hello\n', mode: 0o640 }, { uid: NOBODY })).toBe('ok');
      expect(readFileSync(report, 'utf8')).toBe('hello\n');
      expect(mode(report)).toBe(0o640);
      expect(statSync(report).uid).toBe(NOBODY);
      expect(readdirSync(path.dirname(report))).toEqual(['report']);
    });
  });
});

describe('tempPathFor', () => {
  it('names a hidden temp beside the target, in the shape the leftover checks look for', () => {
    const t = tempPathFor('/var/lib/kubi/pki/etcd-ca.key');
    expect(path.dirname(t)).toBe('/var/lib/kubi/pki');
    expect(path.basename(t)).toMatch(new RegExp(`^\\.etcd-ca\\.key\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
    expect(tempPathFor('/x/f')).not.toBe(tempPathFor('/x/f'));
  });
});

describe('renameAtomic', () => {
  it('moves a finished temp file into place', async () => {
    const dir = tempDir();
    const tmp = path.join(dir, '.k3s.part');
    writeFileSync(tmp, 'binary', { mode: 0o755 });
    await renameAtomic(tmp, path.join(dir, 'k3s'));
    expect(readdirSync(dir)).toEqual(['k3s']);
    expect(readFileSync(path.join(dir, 'k3s'), 'utf8')).toBe('binary');
  });
});

describe('ensureDir', () => {
  it('creates nested directories; the last one gets exactly the mode (default 0700), whatever the umask', async () => {
    const dir = tempDir();
    process.umask(0o077);
    await ensureDir(path.join(dir, 'cache', 'etcd'), 0o755);
    expect(mode(path.join(dir, 'cache', 'etcd'))).toBe(0o755);
    process.umask(0o000);
    await ensureDir(path.join(dir, 'state'));
    expect(mode(path.join(dir, 'state'))).toBe(0o700);
  });

  it('tightens (or sets) the mode of an existing directory', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state');
    mkdirSync(state, { mode: 0o755 });
    chmodSync(state, 0o755);
    await ensureDir(state, 0o700);
    expect(mode(state)).toBe(0o700);
    await ensureDir(state, 0o750);
    expect(mode(state)).toBe(0o750);
  });

  it('a file in the way is an error', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'state'), '');
    await expect(ensureDir(path.join(dir, 'state'), 0o700)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
