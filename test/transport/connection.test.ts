import { describe, expect, it } from 'vitest';
import { KubiError } from '../../src/errors.js';
import { classifyConnectError, hostKeyAlgorithmsFor } from '../../src/transport/connection.js';
import { lastLines, RemoteCommandError } from '../../src/transport/errors.js';
import { Semaphore } from '../../src/transport/semaphore.js';
import { sudoNeedsPassword } from '../../src/transport/ssh.js';

const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);

describe('classifyConnectError', () => {
  it('retries network failures and handshake timeouts', () => {
    expect(classifyConnectError(err('connect ECONNREFUSED', { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'network', reason: 'connection refused' });
    expect(classifyConnectError(err('Timed out while waiting for handshake', { level: 'client-timeout' }))).toMatchObject({ kind: 'network' });
    expect(classifyConnectError(err('(SSH) Channel open failure: Connection refused'))).toMatchObject({ kind: 'network' });
  });

  it('treats authentication failures separately', () => {
    expect(classifyConnectError(err('All configured authentication methods failed', { level: 'client-authentication' }))).toMatchObject({ kind: 'auth' });
  });

  it('never retries our own errors (a host key mismatch) or DNS failures', () => {
    const mismatch = new KubiError('host-key-mismatch', 'x');
    expect(classifyConnectError(mismatch)).toEqual({ kind: 'fatal', error: mismatch });
    expect(classifyConnectError(err('getaddrinfo ENOTFOUND nope', { code: 'ENOTFOUND', level: 'client-dns' }))).toMatchObject({ kind: 'fatal' });
  });
});

describe('hostKeyAlgorithmsFor', () => {
  it('puts the recorded key type first', () => {
    expect(hostKeyAlgorithmsFor('ecdsa-sha2-nistp256')[0]).toBe('ecdsa-sha2-nistp256');
    expect(hostKeyAlgorithmsFor('ssh-rsa').slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(new Set(hostKeyAlgorithmsFor('ssh-rsa')).size).toBe(hostKeyAlgorithmsFor('ssh-rsa').length);
  });
});

describe('RemoteCommandError', () => {
  it('carries host, command, remote exit code and the last 20 stderr lines; lower-case message', () => {
    const stderr = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const e = new RemoteCommandError({ host: 'node1', command: 'systemctl start etcd', exitCode: 3, stderr, stdout: '' });
    expect(e.code).toBe('remote-command');
    expect(e.message).toBe('command failed on node1 (exit 3): systemctl start etcd');
    expect(e.remoteExitCode).toBe(3);
    expect(e.exitCode).toBe(1);
    expect(e.stderrTail).toHaveLength(20);
    expect(e.stderrTail[0]).toBe('line 11');
    expect(e.stderrTail[19]).toBe('line 30');
    expect(lastLines('', 5)).toEqual([]);
  });
});

describe('sudoNeedsPassword', () => {
  it('recognises sudo -n refusing for lack of a password', () => {
    expect(sudoNeedsPassword(1, 'sudo: a password is required\n')).toBe(true);
    expect(sudoNeedsPassword(1, 'sudo: a terminal is required to read the password; either use the -S option\n')).toBe(true);
    expect(sudoNeedsPassword(1, 'grep: no match\n')).toBe(false);
    expect(sudoNeedsPassword(2, 'sudo: a password is required\n')).toBe(false);
  });
});

describe('Semaphore', () => {
  it('bounds holders and hands slots over in order', async () => {
    const s = new Semaphore(2);
    const r1 = await s.acquire();
    await s.acquire();
    const order: number[] = [];
    const third = s.acquire().then((r) => {
      order.push(3);
      return r;
    });
    const fourth = s.acquire().then(() => order.push(4));
    expect(s.inUse).toBe(2);
    r1();
    r1(); // a second release of the same slot is ignored
    (await third)();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(s.inUse).toBe(2);
  });

  it('fails waiters and later acquires once failed', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const waiting = s.acquire();
    s.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    await expect(s.acquire()).rejects.toThrow('gone');
  });
});
