/**
 * sudo for non-root logins, against a real sshd and real sudo: a NOPASSWD user, a user whose
 * sudo needs a password (clear error without one; KUBI_SUDO_PASSWORD or a prompt with one).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../src/redact.js';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import type { CommandLogSink } from '../../src/transport/types.js';
import { NOPASSWD_USER, PASSWORD_USER, SshdLab, type SshdServer, rejection } from '../harness/sshd.js';

let lab: SshdLab;
let server: SshdServer;
let stateDir: string;
let home: string;
let rootOnlyDir: string;
const hosts: SshHost[] = [];

function opts(extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home }, redactor: new Redactor(), ...extra };
}

function as(user: string, extra: Partial<SshTarget> = {}): SshTarget {
  return { name: 'sudohost', address: server.address, port: server.port, user, privateKeyPath: lab.keys.plain, ...extra };
}

async function connect(t: SshTarget, o: Partial<TransportOptions> = {}): Promise<SshHost> {
  const h = await SshHost.connect(t, opts(o));
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  lab = await SshdLab.create();
  await lab.createUsers();
  server = await lab.startSshd({ name: 'sudohost' });
  stateDir = path.join(lab.dir, 'state');
  home = path.join(lab.dir, 'home');
  await fs.mkdir(home);
  rootOnlyDir = path.join(lab.dir, 'root-only');
  await fs.mkdir(rootOnlyDir, { mode: 0o700 });
});

afterAll(async () => {
  for (const h of hosts) h.close();
  await lab?.cleanup();
});

describe('a NOPASSWD sudo user', () => {
  it('runs commands as root through sudo -n, and as itself when asked', async () => {
    const h = await connect(as(NOPASSWD_USER));
    expect(h.isRoot).toBe(false);
    const r = await h.exec(['id', '-u']);
    expect(r.stdout).toBe('0\n');
    expect(r.command).toBe('sudo -n -- id -u');
    expect((await h.exec(['id', '-un'], { sudo: false })).stdout).toBe(`${NOPASSWD_USER}\n`);
    expect((await h.script('id -u; whoami')).stdout).toBe('0\nroot\n');
  });

  it('writes and reads root-only files through sudo', async () => {
    const h = await connect(as(NOPASSWD_USER));
    const file = path.join(rootOnlyDir, 'etcd.key');
    const content = `key-${randomBytes(16).toString('hex')}\n`;
    const r = await h.putFile(file, content, { mode: 0o600, owner: 'root', group: 'root' });
    expect(r.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(content);
    expect(statSync(file).uid).toBe(0);
    expect((await h.putFile(file, content, { mode: 0o600, owner: 'root', group: 'root' })).changed).toBe(false);
    expect((await h.getFile(file))!.toString()).toBe(content);
    // without sudo the login user cannot read it: an error (permission denied), not "missing"
    const denied = await rejection(h.getFile(file, { sudo: false }));
    expect(denied.code).toBe('remote-command');
    expect((denied as unknown as { stderrTail: string[] }).stderrTail.join('\n')).toMatch(/Permission denied/);
    expect(await h.getFile(path.join(rootOnlyDir, 'missing', 'deeper'))).toBeNull();
  });

  it('with sudo off, runs as the login user', async () => {
    const h = await connect(as(NOPASSWD_USER, { sudo: false }));
    expect((await h.exec(['id', '-un'])).stdout).toBe(`${NOPASSWD_USER}\n`);
  });
});

describe('a user whose sudo needs a password', () => {
  it('fails with a clear sudo-password-required error (hint: NOPASSWD or KUBI_SUDO_PASSWORD) when none is given', async () => {
    const h = await connect(as(PASSWORD_USER));
    const e = await rejection(h.exec(['id', '-u']));
    expect(e.code).toBe('sudo-password-required');
    expect(e.message).toBe('sudo on sudohost needs a password');
    expect(e.host).toBe('sudohost');
    expect(e.hint).toMatch(/NOPASSWD/);
    expect(e.hint).toMatch(/KUBI_SUDO_PASSWORD/);
  });

  it('uses KUBI_SUDO_PASSWORD (sent on stdin, never on the command line, never logged)', async () => {
    const entries: string[] = [];
    const sink: CommandLogSink = { command: (e) => entries.push(JSON.stringify(e)), event: (_h, m) => entries.push(m) };
    const h = await connect(as(PASSWORD_USER), { env: { HOME: home, KUBI_SUDO_PASSWORD: lab.sudoPassword }, log: sink });
    const r = await h.exec(['id', '-u']);
    expect(r.stdout).toBe('0\n');
    expect(r.command).toBe('sudo -- id -u');
    expect(r.stderr).toBe('');
    // stdin still reaches the command intact after the password
    const data = `line one\n${randomBytes(50_000).toString('base64')}\nlast`;
    expect((await h.exec(['cat'], { stdin: data })).stdout).toBe(data);
    expect((await h.script('id -u\nread x || echo no-stdin')).stdout).toBe('0\nno-stdin\n');
    const file = path.join(rootOnlyDir, 'pw-user-file');
    await h.putFile(file, 'via password sudo\n', { mode: 0o640 });
    expect(readFileSync(file, 'utf8')).toBe('via password sudo\n');
    expect((await h.putFile(file, 'via password sudo\n', { mode: 0o640 })).changed).toBe(false);
    // a failing command is still reported as the command's failure
    const e = await rejection(h.exec(['sh', '-c', 'echo boom >&2; exit 5']));
    expect(e).toMatchObject({ code: 'remote-command', remoteExitCode: 5, stderrTail: ['boom'] });
    expect(entries.join('\n')).not.toContain(lab.sudoPassword);
    expect(entries.length).toBeGreaterThan(5);
  });

  it('asks the injected prompt once when the env has no password', async () => {
    let asked = 0;
    const h = await connect(as(PASSWORD_USER), {
      promptSudoPassword: async (host) => {
        asked++;
        expect(host).toBe('sudohost');
        return lab.sudoPassword;
      },
    });
    const results = await Promise.all([h.exec(['id', '-u']), h.exec(['id', '-u']), h.exec(['whoami'])]);
    expect(results.map((r) => r.stdout)).toEqual(['0\n', '0\n', 'root\n']);
    expect(asked).toBe(1);
  });

  it('reports a wrong password as sudo-password-rejected', async () => {
    const h = await connect(as(PASSWORD_USER), { env: { HOME: home, KUBI_SUDO_PASSWORD: 'not-the-password' } });
    const e = await rejection(h.exec(['id', '-u'], { timeoutMs: 30_000 }));
    expect(e.code).toBe('sudo-password-rejected');
    expect(e.host).toBe('sudohost');
  });
});
