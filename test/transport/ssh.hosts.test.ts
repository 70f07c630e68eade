/**
 * SshHost against real OpenSSH servers (test/harness/sshd.ts): authentication, exec, scripts,
 * failures, timeouts, files, logging, lost connections, ~/.ssh/config, the pool.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../src/redact.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { connectHosts } from '../../src/transport/pool.js';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import type { CommandLogSink } from '../../src/transport/types.js';
import { descendants, freePort, SshdLab, waitFor, type SshdServer, rejection } from '../harness/sshd.js';

let lab: SshdLab;
let alpha: SshdServer;
let beta: SshdServer;
let stateDir: string;
let home: string;
let work: string;
const hosts: SshHost[] = [];

/** Options with an empty HOME (no real ~/.ssh) and no agent, unless a test adds them. */
function opts(extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home, USER: 'root' }, retryDelayMs: 20, ...extra };
}

function target(server: SshdServer, extra: Partial<SshTarget> = {}): SshTarget {
  return { name: server.name, address: server.address, port: server.port, user: 'root', privateKeyPath: lab.keys.plain, ...extra };
}

async function connect(t: SshTarget, o: Partial<TransportOptions> = {}): Promise<SshHost> {
  const h = await SshHost.connect(t, opts(o));
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  lab = await SshdLab.create();
  stateDir = path.join(lab.dir, 'state');
  home = path.join(lab.dir, 'home');
  work = path.join(lab.dir, 'work');
  await fs.mkdir(home, { mode: 0o700 });
  await fs.mkdir(work, { mode: 0o755 });
  [alpha, beta] = await Promise.all([lab.startSshd({ name: 'alpha' }), lab.startSshd({ name: 'beta' })]);
});

afterAll(async () => {
  for (const h of hosts) h.close();
  await lab?.cleanup();
});

describe('authentication', () => {
  it('logs in with a private key file and reuses one connection for many commands', async () => {
    const h = await connect(target(alpha));
    expect(h.isRoot).toBe(true);
    expect((await h.exec(['id', '-un'])).stdout).toBe('root\n');
    expect((await h.exec(['true'])).exitCode).toBe(0);
    expect(h.stats()).toMatchObject({ connections: 1, roundTrips: 2 });
    // one TCP connection on the server side: one per-connection sshd process tree
    expect(alpha.log().match(/Accepted publickey for root/g)?.length).toBeGreaterThanOrEqual(1);
  });

  it('decrypts an encrypted key with the passphrase from KUBI_SSH_PASSPHRASE', async () => {
    const h = await connect(target(alpha, { privateKeyPath: lab.keys.encrypted }), {
      env: { HOME: home, KUBI_SSH_PASSPHRASE: lab.keys.encryptedPassphrase },
    });
    expect((await h.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('asks the injected prompt for a passphrase when the env has none, and fails clearly without one', async () => {
    const asked: string[] = [];
    const h = await connect(target(alpha, { privateKeyPath: lab.keys.encrypted }), {
      promptPassphrase: async (file) => {
        asked.push(file);
        return lab.keys.encryptedPassphrase;
      },
    });
    expect(asked).toEqual([lab.keys.encrypted]);
    expect((await h.exec(['true'])).exitCode).toBe(0);

    const e = await rejection(SshHost.connect(target(alpha, { privateKeyPath: lab.keys.encrypted }), opts()));
    expect(e.code).toBe('ssh-key');
    expect(e.message).toMatch(/encrypted and no passphrase was given/);
    expect(e.hint).toMatch(/KUBI_SSH_PASSPHRASE/);

    const wrong = await rejection(
      SshHost.connect(target(alpha, { privateKeyPath: lab.keys.encrypted }), opts({ env: { HOME: home, KUBI_SSH_PASSPHRASE: 'wrong' } })),
    );
    expect(wrong.code).toBe('ssh-key');
    expect(wrong.message).toMatch(/does not decrypt it/);
  });

  it('logs in through ssh-agent ($SSH_AUTH_SOCK) without any key file', async () => {
    const socket = await lab.startAgent([lab.keys.agentKey]);
    const t: SshTarget = { name: alpha.name, address: alpha.address, port: alpha.port, user: 'root', agent: true };
    const h = await connect(t, { env: { HOME: home, SSH_AUTH_SOCK: socket } });
    expect((await h.exec(['id', '-u'])).stdout).toBe('0\n');
    expect(alpha.log()).toMatch(/Accepted publickey for root .* ED25519 SHA256:/);
  });

  it('reports an unauthorised key as ssh-auth-failed naming the host and what was offered', async () => {
    const e = await rejection(SshHost.connect(target(alpha, { privateKeyPath: lab.keys.unauthorised }), opts({ authRetries: 1 })));
    expect(e.code).toBe('ssh-auth-failed');
    expect(e.host).toBe('alpha');
    expect(e.message).toContain(`root@${alpha.address}:${alpha.port}`);
    expect(e.message).toContain(lab.keys.unauthorised);
  });

  it('retries a refused connection a bounded number of times, then names host and reason', async () => {
    const port = await freePort(alpha.address);
    const e = await rejection(SshHost.connect(target(alpha, { name: 'nobody-home', port }), opts({ connectRetries: 2 })));
    expect(e.code).toBe('ssh-connect-failed');
    expect(e.host).toBe('nobody-home');
    expect(e.message).toMatch(/connection refused \(3 attempts\)/);
  });

  it('connects once sshd comes up during the retries (a booting host)', async () => {
    const address = SshdLab.loopbackAddress();
    const port = await freePort(address);
    const late = SshHost.connect({ name: 'late', address, port, user: 'root', privateKeyPath: lab.keys.plain }, opts({ connectRetries: 50, retryDelayMs: 100 }));
    const server = await lab.startSshd({ name: 'late', address, port });
    const h = await late;
    hosts.push(h);
    expect((await h.exec(['echo', 'up'])).stdout).toBe('up\n');
    await server.stop();
  });
});

describe('exec', () => {
  let h: SshHost;
  beforeAll(async () => {
    h = await connect(target(alpha));
  });

  it('passes every argv word through the remote shell unchanged', async () => {
    const argv = ['a b', "it's", '$HOME', '`id`', '*', '', 'line\nbreak', 'ümlaut'];
    const r = await h.exec(['printf', '%s|', ...argv]);
    expect(r.stdout).toBe(`${argv.join('|')}|`);
    expect(r.command).toBe(`printf '%s|' 'a b' 'it'\\''s' '$HOME' '\`id\`' '*' '' 'line\nbreak' 'ümlaut'`);
  });

  it('feeds stdin to the command', async () => {
    const data = randomBytes(100_000).toString('base64');
    const r = await h.exec(['sha256sum'], { stdin: data });
    const { createHash } = await import('node:crypto');
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('turns a non-zero exit into RemoteCommandError with host, command, exit code and the stderr tail', async () => {
    const argv = ['sh', '-c', 'for i in $(seq 1 30); do echo "err $i" >&2; done; echo out; exit 3'];
    const e = await rejection(h.exec(argv));
    expect(e).toBeInstanceOf(RemoteCommandError);
    const rc = e as RemoteCommandError;
    expect(rc.code).toBe('remote-command');
    expect(rc.host).toBe('alpha');
    expect(rc.remoteExitCode).toBe(3);
    expect(rc.command).toBe(`sh -c 'for i in $(seq 1 30); do echo "err $i" >&2; done; echo out; exit 3'`);
    expect(rc.message).toBe(`command failed on alpha (exit 3): ${rc.command}`);
    expect(rc.stderrTail).toEqual(Array.from({ length: 20 }, (_, i) => `err ${i + 11}`));
    expect(rc.stdout).toBe('out\n');

    const r = await h.exec(['sh', '-c', 'exit 7'], { allowFailure: true });
    expect(r.exitCode).toBe(7);
  });

  it('stops a command at its timeout: command-timeout naming host, command and timeout; the remote process is signalled', async () => {
    const marker = `${600 + Math.floor(Math.random() * 1000)}.${Date.now() % 100000}`;
    const e = await rejection(h.exec(['sleep', marker], { timeoutMs: 400 }));
    expect(e.code).toBe('command-timeout');
    expect(e.host).toBe('alpha');
    expect(e.message).toBe(`command timed out on alpha after 400 ms: sleep ${marker}`);
    // the sleep was started by sshd on this machine: it must go away (TERM via the channel)
    const running = () => readdirSync('/proc').some((p) => /^\d+$/.test(p) && safeRead(`/proc/${p}/cmdline`).includes(`sleep\0${marker}`));
    await waitFor(() => !running(), 10_000, 'the timed-out remote sleep to exit');
    // and the connection is still usable
    expect((await h.exec(['echo', 'still here'])).stdout).toBe('still here\n');
  });

  it('gets the exit status of very fast commands (it can arrive with the channel confirmation)', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => h.exec(['sh', '-c', `exit ${i % 3}`], { allowFailure: true })));
    expect(results.map((r) => r.exitCode)).toEqual(Array.from({ length: 60 }, (_, i) => i % 3));
  });

  it('runs more commands at once than sshd allows sessions (channels are queued, none fails)', async () => {
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => h.exec(['sh', '-c', `sleep 0.2; echo ${i}`])));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 25 }, (_, i) => `${i}\n`));
  });
});

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

describe('script', () => {
  it('runs a multi-line bash script in one round trip; its commands read /dev/null, not the rest of the script', async () => {
    const h = await connect(target(alpha));
    const before = h.stats().roundTrips;
    const r = await h.script(['set -e', 'if read -r line; then echo "ate: $line"; else echo stdin-empty; fi', 'cat', 'echo "after $((1 + 2))"'].join('\n'));
    expect(r.stdout).toBe('stdin-empty\nafter 3\n');
    expect(h.stats().roundTrips - before).toBe(1);
    const e = await rejection(h.script('echo half\nexit 4\necho never', { label: 'probe' }));
    expect(e).toBeInstanceOf(RemoteCommandError);
    expect((e as RemoteCommandError).remoteExitCode).toBe(4);
    expect((e as RemoteCommandError).stdout).toBe('half\n');
    expect(e.message).toMatch(/^command failed on alpha \(exit 4\): bash -s \(script "probe"/);
  });
});

describe('files', () => {
  let h: SshHost;
  beforeAll(async () => {
    h = await connect(target(alpha));
  });

  it('writes a file with mode and owner, exact content, no temp file left', async () => {
    const file = path.join(work, 'secret.key');
    const content = Buffer.concat([randomBytes(5000), Buffer.from('\n\0end')]);
    const r = await h.putFile(file, content, { mode: 0o600, owner: 'nobody', group: 'nogroup' });
    expect(r).toMatchObject({ path: file, changed: true });
    expect(readFileSync(file).equals(content)).toBe(true);
    const st = statSync(file);
    expect(st.mode & 0o7777).toBe(0o600);
    expect(st.uid).toBe(Number((await h.exec(['id', '-u', 'nobody'])).stdout.trim()));
    expect(st.gid).toBe(Number((await h.exec(['getent', 'group', 'nogroup'])).stdout.split(':')[2]));
    expect(readdirSync(work).filter((f) => f.startsWith('.kubi-put'))).toEqual([]);
  });

  it('skips the upload when the checksum matches (one round trip, almost no bytes), fixes mode in place', async () => {
    const file = path.join(work, 'big.bin');
    const content = randomBytes(300_000);
    const first = await h.putFile(file, content, { mode: 0o644 });
    expect(first.changed).toBe(true);
    expect(first.bytesSent).toBeGreaterThanOrEqual(content.length);

    const trips = h.stats().roundTrips;
    const sent = h.stats().bytesSent;
    const second = await h.putFile(file, content, { mode: 0o644 });
    expect(second.changed).toBe(false);
    expect(second.bytesSent).toBeLessThan(4096);
    expect(h.stats().roundTrips - trips).toBe(1);
    expect(h.stats().bytesSent - sent).toBe(second.bytesSent);
    const inode = statSync(file).ino;

    const third = await h.putFile(file, content, { mode: 0o640 });
    expect(third.changed).toBe(true);
    expect(third.bytesSent).toBeLessThan(4096);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(statSync(file).ino).toBe(inode);

    const forced = await h.putFile(file, content, { mode: 0o640, skipIfSame: false });
    expect(forced.changed).toBe(true);
    expect(forced.bytesSent).toBeGreaterThanOrEqual(content.length);
  });

  it('replaces a file atomically: a reader looping during many rewrites never sees it partial or missing', async () => {
    const file = path.join(work, 'atomic.txt');
    const a = Buffer.alloc(256 * 1024, 'a');
    const b = Buffer.alloc(200 * 1024, 'b');
    await h.putFile(file, a);
    const stop = path.join(work, 'stop-reader');
    // a separate process, so reads really interleave with the renames
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const [f,s,la,lb]=process.argv.slice(1);let ok=0,bad=[];
         while(!fs.existsSync(s)){let d;try{d=fs.readFileSync(f)}catch(e){bad.push(e.code);continue}
           const good=(d.length==la&&d.every(x=>x==97))||(d.length==lb&&d.every(x=>x==98));
           if(good)ok++;else bad.push('len '+d.length)}
         console.log(JSON.stringify({ok,bad:bad.slice(0,5),badCount:bad.length}))`,
        file,
        stop,
        String(a.length),
        String(b.length),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => reader.on('exit', () => r()));
    for (let i = 0; i < 40; i++) await h.putFile(file, i % 2 === 0 ? b : a);
    await fs.writeFile(stop, '');
    await exited;
    const result = JSON.parse(out) as { ok: number; bad: string[]; badCount: number };
    expect(result.badCount, `bad reads: ${result.bad.join(', ')}`).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
    expect(readFileSync(file).equals(a)).toBe(true);
  });

  it('fails clearly when the directory does not exist', async () => {
    const e = await rejection(h.putFile(path.join(work, 'missing-dir', 'f'), 'x'));
    expect(e).toBeInstanceOf(RemoteCommandError);
    expect((e as RemoteCommandError).stderrTail.join('\n')).toMatch(/directory .*missing-dir does not exist/);
  });

  it('reads files back exactly (binary), null when missing', async () => {
    const file = path.join(work, 'binary');
    const content = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await fs.writeFile(file, content);
    expect((await h.getFile(file))!.equals(content)).toBe(true);
    expect(await h.getFile(path.join(work, 'nope'))).toBeNull();
    expect((await h.getFile(path.join(work, 'empty-file-missing')))).toBeNull();
    await expect(h.getFile(work)).rejects.toBeInstanceOf(RemoteCommandError);
  });
});

describe('logging', () => {
  it('writes every command to the sink with secrets redacted; file contents never', async () => {
    const entries: Parameters<CommandLogSink['command']>[0][] = [];
    const sink: CommandLogSink = { command: (e) => entries.push(e), event: () => {} };
    const redactor = new Redactor();
    const secret = `tok-${randomBytes(8).toString('hex')}`;
    redactor.add(secret, 'token');
    const h = await connect(target(alpha), { log: sink, redactor });
    const r = await h.exec(['echo', secret], { label: 'echo the token', mutating: false });
    expect(r.stdout).toBe('<redacted:token>\n');
    expect(r.command).toBe('echo <redacted:token>');
    await h.putFile(path.join(work, 'tokenfile'), `token=${secret}\n`, { mode: 0o600, secret: true });
    await h.getFile(path.join(work, 'tokenfile'));
    const text = JSON.stringify(entries);
    expect(text).not.toContain(secret);
    expect(entries[0]).toMatchObject({ host: 'alpha', command: 'echo <redacted:token>', exitCode: 0, mutating: false, label: 'echo the token' });
    expect(entries.map((e) => e.label)).toEqual(['echo the token', `write ${path.join(work, 'tokenfile')}`, `read ${path.join(work, 'tokenfile')}`]);
  });
});

describe('a lost connection', () => {
  it('fails the in-flight command and every later one at once with connection-lost naming the host', async () => {
    const victim = await lab.startSshd({ name: 'victim' });
    const h = await connect(target(victim), { keepaliveIntervalMs: 60_000 });
    expect((await h.exec(['true'])).exitCode).toBe(0);
    const inflight = h.exec(['sleep', '300'], { timeoutMs: 20_000 });
    const second = h.exec(['sleep', '301'], { timeoutMs: 20_000 });
    await waitFor(() => descendants(victim.pid).length > 0, 5_000, 'the connection process');
    await new Promise((r) => setTimeout(r, 300));
    expect(await victim.killConnections()).toBeGreaterThan(0);
    for (const p of [inflight, second]) {
      const e = await rejection(p);
      expect(e.code).toBe('connection-lost');
      expect(e.host).toBe('victim');
      expect(e.message).toMatch(/^lost the ssh connection to victim/);
    }
    const later = await rejection(h.exec(['true']));
    expect(later.code).toBe('connection-lost');
    expect(h.connected).toBe(false);
    await victim.stop();
  }, 30_000);
});

describe('~/.ssh/config', () => {
  it('honours HostName, User, Port and IdentityFile of a matching Host entry', async () => {
    const dir = mkdtempSync(path.join(lab.dir, 'cfg-'));
    const cfg = path.join(dir, 'config');
    await fs.writeFile(
      cfg,
      [`Host kube-*`, `  HostName ${alpha.address}`, `  Port ${alpha.port}`, `  User root`, `  IdentityFile ${lab.keys.plain}`, `Host *`, `  Port 1`, ''].join('\n'),
    );
    // address 127.0.0.254 (nothing listens): only the config's HostName/Port can make this work
    const t: SshTarget = { name: 'kube-alpha', address: '127.0.0.254', useSshConfig: true };
    const h = await connect(t, { sshConfigPath: cfg });
    expect((await h.exec(['id', '-un'])).stdout).toBe('root\n');
    expect(h.target).toMatchObject({ connectHost: alpha.address, port: alpha.port, identityFiles: [lab.keys.plain] });

    const off = await rejection(SshHost.connect({ ...t, useSshConfig: false, privateKeyPath: lab.keys.plain }, opts({ sshConfigPath: cfg, connectRetries: 0 })));
    expect(off.code).toBe('ssh-connect-failed');
  });
});

describe('connectHosts', () => {
  it('connects to every host in parallel, one connection each, with summed stats', async () => {
    const pool = await connectHosts([target(alpha), target(beta)], opts());
    try {
      expect([...pool.hosts.keys()]).toEqual(['alpha', 'beta']);
      await Promise.all([pool.get('alpha').exec(['true']), pool.get('beta').exec(['true']), pool.get('beta').exec(['true'])]);
      expect(pool.stats()).toMatchObject({ connections: 2, roundTrips: 3 });
      expect(() => pool.get('gamma')).toThrow(/not connected/);
    } finally {
      pool.closeAll();
    }
    await expect(pool.get('alpha').exec(['true'])).rejects.toMatchObject({ code: 'connection-closed' });
  });

  it('names the host that failed and closes the others', async () => {
    const port = await freePort(beta.address);
    const e = await rejection(connectHosts([target(alpha), target(beta, { name: 'broken', port })], opts({ connectRetries: 0 })));
    expect(e.code).toBe('ssh-connect-failed');
    expect(e.host).toBe('broken');
    expect(existsSync(stateDir)).toBe(true);
  });
});


