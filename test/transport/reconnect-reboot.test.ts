/**
 * rebootAndWait's loop against a TEST DOUBLE (a real reboot cannot be provoked here): a host
 * whose boot id changes only once its "reboot" finished, with a fake clock and sleep. The SSH
 * part (reconnect) is proven against real sshd in reconnect.hosts.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { KubiError } from '../../src/errors.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { rebootAndWait } from '../../src/transport/reboot.js';
import type { ExecOptions, ExecResult, RemoteHost } from '../../src/transport/types.js';

/** TEST DOUBLE: a host that reboots. `downFor` reconnect attempts fail; `oldBootAnswers` reconnects still reach the old system. */
class RebootingHost implements RemoteHost {
  readonly name = 'pi1';
  readonly address = '10.0.0.1';
  readonly isRoot = false;
  bootId = 'boot-a';
  connected = true;
  rebootRequested = false;
  reconnects = 0;
  execs: { argv: string; sudo: boolean | undefined }[] = [];
  constructor(
    private readonly behaviour: {
      downFor?: number;
      oldBootAnswers?: number;
      rebootAnswer?: 'ok' | 'drop' | 'refused';
      reconnectError?: KubiError;
    } = {},
  ) {}

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.execs.push({ argv: argv.join(' '), sudo: opts.sudo });
    if (!this.connected) throw new KubiError('connection-lost', 'lost the ssh connection to pi1', { host: 'pi1' });
    const res = (stdout: string, exitCode = 0): ExecResult => ({ command: argv.join(' '), exitCode, stdout, stderr: exitCode ? 'Failed to reboot: Access denied\n' : '', durationMs: 1 });
    if (argv.join(' ') === 'cat /proc/sys/kernel/random/boot_id') return res(`${this.bootId}\n`);
    if (argv.join(' ') === 'systemctl reboot') {
      const answer = this.behaviour.rebootAnswer ?? 'ok';
      if (answer === 'refused') {
        const r = res('', 1);
        if (!opts.allowFailure) throw new RemoteCommandError({ host: 'pi1', command: r.command, exitCode: 1, stderr: r.stderr, stdout: '' });
        return r;
      }
      this.rebootRequested = true;
      if (answer === 'drop') {
        this.connected = false;
        throw new KubiError('connection-lost', 'lost the ssh connection to pi1 (the server closed the connection)', { host: 'pi1' });
      }
      return res('');
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }

  async reconnect(): Promise<void> {
    this.reconnects++;
    if (this.behaviour.reconnectError) throw this.behaviour.reconnectError;
    if (!this.rebootRequested) {
      this.connected = true;
      return;
    }
    const old = this.behaviour.oldBootAnswers ?? 0;
    if (this.reconnects <= old) {
      this.connected = true;
      return;
    }
    if (this.reconnects <= old + (this.behaviour.downFor ?? 0)) {
      this.connected = false;
      throw new KubiError('reconnect-timeout', 'timed out after 1 s waiting for pi1 to accept ssh again (reboot); last error: connection refused (3 attempts)', { host: 'pi1' });
    }
    this.bootId = 'boot-b';
    this.connected = true;
  }

  script(): Promise<ExecResult> {
    throw new Error('not used');
  }
  putFile(): never {
    throw new Error('not used');
  }
  getFile(): never {
    throw new Error('not used');
  }
  stats() {
    return { connections: 1 + this.reconnects, roundTrips: this.execs.length, bytesSent: 0, bytesReceived: 0 };
  }
}

function fakeClock() {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), get t() { return t; } };
}

describe('rebootAndWait', () => {
  it('reboots with sudo, retries past the old system and the down time, returns both boot ids', async () => {
    const host = new RebootingHost({ oldBootAnswers: 1, downFor: 2 });
    const clock = fakeClock();
    const progress: string[] = [];
    const r = await rebootAndWait(host, { timeoutMs: 60_000, ...clock, onProgress: (m) => progress.push(m) });
    expect(r).toEqual({ before: 'boot-a', after: 'boot-b' });
    expect(host.reconnects).toBe(4);
    expect(host.execs.find((e) => e.argv === 'systemctl reboot')?.sudo).toBe(true);
    expect(progress).toEqual(['rebooting', 'back after reboot']);
  });

  it('tolerates the connection dropping while systemctl reboot runs', async () => {
    const host = new RebootingHost({ rebootAnswer: 'drop' });
    const r = await rebootAndWait(host, { timeoutMs: 60_000, ...fakeClock() });
    expect(r.after).toBe('boot-b');
  });

  it('a refused reboot fails at once with reboot-failed, no waiting', async () => {
    const host = new RebootingHost({ rebootAnswer: 'refused' });
    await expect(rebootAndWait(host, { timeoutMs: 60_000, ...fakeClock() })).rejects.toMatchObject({
      code: 'reboot-failed',
      message: 'systemctl reboot failed on pi1 (exit 1): Failed to reboot: Access denied',
    });
    expect(host.reconnects).toBe(0);
  });

  it('a host-key mismatch on the way back is thrown at once, unchanged', async () => {
    const mismatch = new KubiError('host-key-mismatch', 'pi1 presented a different host key', { host: 'pi1' });
    const host = new RebootingHost({ reconnectError: mismatch });
    await expect(rebootAndWait(host, { timeoutMs: 60_000, ...fakeClock() })).rejects.toBe(mismatch);
    expect(host.reconnects).toBe(1);
  });

  it('never back: reboot-timeout with the host and the last error', async () => {
    const host = new RebootingHost({ downFor: 1_000_000 });
    const clock = fakeClock();
    const err = (await rebootAndWait(host, { timeoutMs: 30_000, pollMs: 2_000, ...clock }).catch((e: unknown) => e)) as KubiError;
    expect(err.code).toBe('reboot-timeout');
    expect(err.host).toBe('pi1');
    expect(err.message).toBe(
      'timed out after 30 s waiting for pi1 to come back with a new boot id after a reboot; last: timed out after 1 s waiting for pi1 to accept ssh again (reboot); last error: connection refused (3 attempts)',
    );
    expect(clock.t).toBe(30_000);
  });

  it('a host that keeps its boot id (the reboot never happens) also times out, saying so', async () => {
    const host = new RebootingHost({ oldBootAnswers: 1_000_000 });
    const err = (await rebootAndWait(host, { timeoutMs: 10_000, ...fakeClock() }).catch((e: unknown) => e)) as KubiError;
    expect(err.code).toBe('reboot-timeout');
    expect(err.message).toMatch(/last: it still answers with the old boot id/);
  });
});
