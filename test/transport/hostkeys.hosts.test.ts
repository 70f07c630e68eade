/**
 * Host keys against real sshd: trust on first use with the fingerprint ssh-keygen prints, a hard
 * refusal on a changed key (nothing sent: no authentication, no command), strict mode,
 * acceptChangedHostKeys, forgetHost.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetHost, type HostKeyEvent } from '../../src/transport/known-hosts.js';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import { SshdLab, type SshdServer, rejection } from '../harness/sshd.js';

let lab: SshdLab;
let server: SshdServer;
let home: string;

function target(): SshTarget {
  return { name: 'keyhost', address: server.address, port: server.port, user: 'root', privateKeyPath: lab.keys.plain };
}

function opts(stateDir: string, events: HostKeyEvent[], extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home }, onHostKey: (e) => events.push(e), retryDelayMs: 20, inventoryPath: 'inventories/lab.yaml', ...extra };
}

/** Connect, then create the canary file: the canary exists only if a command really ran. */
async function connectAndTouch(o: TransportOptions, canary: string): Promise<void> {
  const h = await SshHost.connect(target(), o);
  try {
    await h.exec(['touch', canary]);
  } finally {
    h.close();
  }
}

const count = (re: RegExp) => (server.log().match(re) ?? []).length;

beforeAll(async () => {
  lab = await SshdLab.create();
  home = path.join(lab.dir, 'home');
  await fs.mkdir(home);
  server = await lab.startSshd({ name: 'keyhost' });
});

afterAll(async () => {
  await lab?.cleanup();
});

describe('host keys', () => {
  it('records the key on first contact (0600 file, OpenSSH format) and reports the ssh-keygen fingerprint', async () => {
    const stateDir = path.join(lab.dir, 'state-tofu');
    const events: HostKeyEvent[] = [];
    await connectAndTouch(opts(stateDir, events), path.join(lab.dir, 'canary-tofu'));
    const fp = await server.fingerprint();
    expect(events).toEqual([
      {
        kind: 'recorded',
        host: 'keyhost',
        address: server.address,
        port: server.port,
        keyType: 'ssh-ed25519',
        fingerprint: fp,
        file: path.join(stateDir, 'known_hosts'),
      },
    ]);
    const file = path.join(stateDir, 'known_hosts');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const pub = readFileSync(`${server.hostKeyPath}.pub`, 'utf8').split(' ');
    expect(readFileSync(file, 'utf8')).toBe(`keyhost,[${server.address}]:${server.port} ${pub[0]} ${pub[1]}\n`);

    // OpenSSH's own client accepts the file as it is
    execFileSync('ssh', [
      '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${file}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-i', lab.keys.plain, '-p', String(server.port), `root@${server.address}`, 'true',
    ]);

    // the second contact trusts it silently
    await connectAndTouch(opts(stateDir, events), path.join(lab.dir, 'canary-tofu-2'));
    expect(events).toHaveLength(1);
  });

  it('refuses a changed key with both fingerprints and the forget-host hint; nothing is sent, nothing retried', async () => {
    const stateDir = path.join(lab.dir, 'state-mismatch');
    const events: HostKeyEvent[] = [];
    await connectAndTouch(opts(stateDir, events), path.join(lab.dir, 'canary-before'));
    const oldFp = await server.fingerprint();

    await server.regenerateHostKey();
    const newFp = await server.fingerprint();
    expect(newFp).not.toBe(oldFp);
    const connectionsBefore = count(/Connection from /g);
    const authBefore = count(/Accepted publickey|Failed publickey|userauth/gi);
    expect(authBefore).toBeGreaterThan(0); // the pattern does match authentications in this log

    const canary = path.join(lab.dir, 'canary-mismatch');
    const e = await rejection(connectAndTouch(opts(stateDir, events, { connectRetries: 5, authRetries: 5 }), canary));
    expect(e.code).toBe('host-key-mismatch');
    expect(e.exitCode).toBe(1);
    expect(e.host).toBe('keyhost');
    expect(e.message).toBe(
      `host key of keyhost (${server.address}:${server.port}) does not match the recorded one: recorded ssh-ed25519 ${oldFp}, presented ssh-ed25519 ${newFp}`,
    );
    expect(e.hint).toContain('kubi-provision forget-host inventories/lab.yaml keyhost');
    expect(existsSync(canary)).toBe(false);
    // one connection (no retry), and it never got as far as authentication
    await new Promise((r) => setTimeout(r, 200));
    expect(count(/Connection from /g) - connectionsBefore).toBe(1);
    expect(count(/Accepted publickey|Failed publickey|userauth/gi)).toBe(authBefore);
    // the recorded key is untouched
    expect(readFileSync(path.join(stateDir, 'known_hosts'), 'utf8')).toContain(`keyhost,[${server.address}]:${server.port} ssh-ed25519 `);
    expect(events.map((x) => x.kind)).toEqual(['recorded']);

    // after forgetting the old key, the next contact records the new one
    expect(await forgetHost(stateDir, 'keyhost')).toMatchObject({ name: 'keyhost', keyType: 'ssh-ed25519' });
    await connectAndTouch(opts(stateDir, events), canary);
    expect(existsSync(canary)).toBe(true);
    expect(events.map((x) => [x.kind, x.fingerprint])).toEqual([
      ['recorded', oldFp],
      ['recorded', newFp],
    ]);
  });

  it('strictHostKeys refuses an unknown host before authenticating, and accepts a recorded one', async () => {
    const stateDir = path.join(lab.dir, 'state-strict');
    const events: HostKeyEvent[] = [];
    const canary = path.join(lab.dir, 'canary-strict');
    const e = await rejection(connectAndTouch(opts(stateDir, events, { strictHostKeys: true }), canary));
    expect(e.code).toBe('host-key-unknown');
    expect(e.message).toContain(await server.fingerprint());
    expect(existsSync(canary)).toBe(false);
    expect(existsSync(path.join(stateDir, 'known_hosts'))).toBe(false);

    await connectAndTouch(opts(stateDir, events), canary); // TOFU once
    await connectAndTouch(opts(stateDir, events, { strictHostKeys: true }), path.join(lab.dir, 'canary-strict-2'));
    expect(existsSync(path.join(lab.dir, 'canary-strict-2'))).toBe(true);
  });

  it('acceptChangedHostKeys replaces a changed key, reporting both fingerprints', async () => {
    const stateDir = path.join(lab.dir, 'state-accept');
    const events: HostKeyEvent[] = [];
    await connectAndTouch(opts(stateDir, events), path.join(lab.dir, 'canary-accept-1'));
    const oldFp = await server.fingerprint();
    await server.regenerateHostKey();
    const newFp = await server.fingerprint();
    await connectAndTouch(opts(stateDir, events, { acceptChangedHostKeys: true }), path.join(lab.dir, 'canary-accept-2'));
    expect(existsSync(path.join(lab.dir, 'canary-accept-2'))).toBe(true);
    expect(events[1]).toMatchObject({ kind: 'replaced', host: 'keyhost', fingerprint: newFp, previousFingerprint: oldFp, previousKeyType: 'ssh-ed25519' });
    // and it is now the trusted key
    await connectAndTouch(opts(stateDir, events), path.join(lab.dir, 'canary-accept-3'));
    expect(events).toHaveLength(2);
  });
});
