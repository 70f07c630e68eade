/**
 * The remote put program (src/transport/remote-scripts.ts) cut off mid-transfer, the way an
 * interrupted run cuts it off on a host (found by interrupts.hosts.test.ts: SIGKILL of the tool
 * during an upload left `.kubi-put.*` files in /usr/local/bin on every node):
 *  - the tool dies: sshd goes away and closes the program's stdin, stdout and stderr (here: the
 *    parent closes all three pipes; a write then raises SIGPIPE, which killed sh without its trap);
 *  - the remote timeout fires: TERM;
 *  - SIGKILL or a reboot: nothing can clean up, so the next put of the same target does.
 * Run with the local /bin/sh (dash), as sshd runs it on Debian hosts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PUT_MARK, putArgv } from '../../src/transport/remote-scripts.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-put-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const temps = (name = '') => readdirSync(dir).filter((n) => n.startsWith(`.kubi-put.${name}`));

/** Start a put of `content` to `file`; resolves once the program asked for the content (SEND). */
async function startPut(file: string, content: Buffer) {
  const argv = putArgv({ path: file, mode: 0o755, sha256: sha(content), size: content.length, skipIfSame: true });
  // its own process group, like under the remote `timeout` (which signals the whole group)
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(PUT_MARK.send)) resolve();
    });
    child.on('close', () => reject(new Error(`put ended before SEND: ${out}`)));
  });
  // half of the content arrives, then the transfer is cut off
  await new Promise<void>((resolve) => child.stdin.write(content.subarray(0, content.length / 2), () => resolve()));
  return { child, exited };
}

/** A temp file shows up while the transfer runs (so "no temp file" afterwards means it was removed). */
async function tempAppears(): Promise<void> {
  for (let i = 0; i < 100 && temps().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(temps().length).toBe(1);
}

describe('put cut off mid-transfer leaves no partial file and no temp file', () => {
  const content = Buffer.alloc(4 * 1024 * 1024, 0x61);

  it('the tool dies (all pipes closed, as when sshd goes away)', async () => {
    const f = path.join(dir, 'etcd');
    writeFileSync(f, 'old\n');
    const { child, exited } = await startPut(f, content);
    await tempAppears();
    child.stdout.destroy();
    child.stderr.destroy();
    child.stdin.destroy();
    const r = await exited;
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(temps()).toEqual([]);
    expect(readFileSync(f, 'utf8')).toBe('old\n');
  });

  it('the remote timeout sends TERM', async () => {
    const f = path.join(dir, 'etcdctl');
    const { child, exited } = await startPut(f, content);
    await tempAppears();
    process.kill(-child.pid!, 'SIGTERM');
    const r = await exited;
    expect(r.code).toBe(143);
    expect(temps()).toEqual([]);
  });

  it('SIGKILL leaves a temp file; the next put of the same target removes it, others are left alone', async () => {
    const f = path.join(dir, 'containerd');
    const { child, exited } = await startPut(f, content);
    await tempAppears();
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const left = temps('containerd');
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(/^\.kubi-put\.containerd\.[A-Za-z0-9]{6}$/);
    // another target's put does not touch it
    const other = Buffer.from('other\n');
    const o = putArgv({ path: path.join(dir, 'ctr'), mode: 0o755, sha256: sha(other), size: other.length, skipIfSame: true });
    const oc = spawn(o[0]!, o.slice(1), { stdio: ['pipe', 'ignore', 'ignore'] });
    oc.stdin.end(other);
    await new Promise((r) => oc.on('close', r));
    expect(temps('containerd')).toEqual(left);
    expect(temps('ctr')).toEqual([]);
    // the same target's next put cleans up, and writes the whole file
    const small = Buffer.from('containerd v1\n');
    const n = putArgv({ path: f, mode: 0o755, sha256: sha(small), size: small.length, skipIfSame: true });
    const nc = spawn(n[0]!, n.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    nc.stdin.end(small);
    const code = await new Promise((r) => nc.on('close', r));
    expect(code).toBe(0);
    expect(temps()).toEqual([]);
    expect(readFileSync(f, 'utf8')).toBe('containerd v1\n');
  });
});
