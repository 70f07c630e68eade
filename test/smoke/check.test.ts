/** retryUntil / retryCheck with an injected fake clock, and outcomes from thrown errors. */
import { describe, expect, it } from 'vitest';
import { KubiError } from '../../src/errors.js';
import {
  failed,
  formatDuration,
  NotRun,
  outcomeFromError,
  passed,
  retryCheck,
  retryUntil,
  RetryTimeoutError,
  warning,
} from '../../src/smoke/check.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { FakeClock } from './harness/scripted-host.js';
import { testContext } from './harness/context.js';

const id = (s: string): string => s;

describe('retryUntil', () => {
  it('retries until done, sleeping the interval between attempts', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const value = await retryUntil(
      async () => (++calls < 3 ? { done: false, reason: `attempt ${calls}` } : { done: true, value: 'ok' }),
      { timeoutMs: 10_000, intervalMs: 500, what: 'x', now: clock.now, sleep: clock.sleep },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([500, 500]);
  });

  it('times out with the last reason, the attempt count, the host and the last evidence', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const err = await retryUntil(
      async () => ({ done: false, reason: `still bad ${++calls}`, evidence: [{ host: 'node1', command: 'c', output: `out ${calls}` }] }),
      { timeoutMs: 5_000, intervalMs: 1_000, what: 'the thing', host: 'node1', now: clock.now, sleep: clock.sleep },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryTimeoutError);
    const t = err as RetryTimeoutError;
    expect(t.attempts).toBe(5);
    expect(t.lastReason).toBe('still bad 5');
    expect(t.evidence[0]!.output).toBe('out 5');
    expect(t.message).toBe('timed out after 5.0 s waiting for the thing on node1 (5 attempts): still bad 5');
    // never sleeps past the deadline
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(5_000);
  });

  it('counts a thrown error as a failed attempt and keeps its evidence', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const v = await retryUntil(
      async () => {
        if (++calls === 1) throw new RemoteCommandError({ host: 'node2', command: 'etcdctl x', exitCode: 1, stderr: 'boom', stdout: '' });
        return { done: true, value: calls };
      },
      { timeoutMs: 5_000, intervalMs: 100, what: 'x', now: clock.now, sleep: clock.sleep },
    );
    expect(v).toBe(2);
  });

  it('runs at least once even with a zero timeout', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await expect(
      retryUntil(async () => ({ done: false, reason: `n${++calls}` }), { timeoutMs: 0, intervalMs: 100, what: 'x', now: clock.now, sleep: clock.sleep }),
    ).rejects.toThrow(/1 attempts\): n1/);
    expect(calls).toBe(1);
  });

  it('lets NotRun through at once', async () => {
    const clock = new FakeClock();
    await expect(
      retryUntil(async () => {
        throw new NotRun('host gone');
      }, { timeoutMs: 5_000, intervalMs: 100, what: 'x', now: clock.now, sleep: clock.sleep }),
    ).rejects.toBeInstanceOf(NotRun);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('retryCheck', () => {
  it('returns a warning at once (only failures are retried)', async () => {
    const clock = new FakeClock();
    const ctx = testContext({ hosts: [], clock });
    let calls = 0;
    const o = await retryCheck(ctx, { what: 'x' }, async () => (++calls, warning('meh')));
    expect(o).toEqual({ status: 'warning', message: 'meh' });
    expect(calls).toBe(1);
  });

  it('returns the last failure with how long it kept failing', async () => {
    const clock = new FakeClock();
    const ctx = testContext({ hosts: [], clock, options: { timeoutMs: 3_000, intervalMs: 1_000 } });
    let calls = 0;
    const o = await retryCheck(ctx, { what: 'x' }, async () => failed(`bad ${++calls}`, [{ host: 'h', command: 'c', output: 'o' }]));
    expect(o.status).toBe('failed');
    expect(o.message).toBe('bad 3 (still failing after 3.0 s, 3 attempts)');
    expect(o.evidence).toHaveLength(1);
  });

  it('turns a thrown error into a failed outcome and passes after recovery', async () => {
    const clock = new FakeClock();
    const ctx = testContext({ hosts: [], clock });
    let calls = 0;
    const o = await retryCheck(ctx, { what: 'x' }, async () => {
      if (++calls < 2) throw new Error('flaky');
      return passed('fine');
    });
    expect(o).toEqual({ status: 'passed', message: 'fine' });
  });

  it('maps NotRun to a not-run outcome', async () => {
    const ctx = testContext({ hosts: [] });
    const o = await retryCheck(ctx, { what: 'x' }, async () => {
      throw new NotRun('node2 is not reachable over ssh');
    });
    expect(o).toEqual({ status: 'not-run', message: 'node2 is not reachable over ssh' });
  });
});

describe('outcomeFromError', () => {
  it('keeps command, exit code and output of a RemoteCommandError as evidence', () => {
    const e = new RemoteCommandError({ host: 'node1', command: 'ctr run x', exitCode: 2, stderr: 'a\nb\nno network config found', stdout: 'partial' });
    const o = outcomeFromError(e, 'node1', id);
    expect(o.status).toBe('failed');
    expect(o.message).toMatch(/^node1: command failed on node1 \(exit 2\)/);
    expect(o.evidence).toEqual([{ host: 'node1', command: 'ctr run x', exitCode: 2, output: 'partial\na\nb\nno network config found' }]);
  });

  it('redacts messages and evidence', () => {
    const e = new RemoteCommandError({ host: 'node1', command: 'x --token SECRETSECRET', exitCode: 1, stderr: 'SECRETSECRET', stdout: '' });
    const o = outcomeFromError(e, 'node1', (s) => s.split('SECRETSECRET').join('<redacted:token>'));
    expect(JSON.stringify(o)).not.toContain('SECRETSECRET');
    expect(o.evidence![0]!.command).toBe('x --token <redacted:token>');
  });

  it('names the host of a transport error', () => {
    const o = outcomeFromError(new KubiError('connection-lost', 'lost the ssh connection to node3 (reset)', { host: 'node3' }), undefined, id);
    expect(o.message).toBe('node3: lost the ssh connection to node3 (reset)');
    expect(o.evidence![0]!.host).toBe('node3');
  });
});

describe('formatDuration', () => {
  it.each([
    [12, '12 ms'],
    [1500, '1.5 s'],
    [30_000, '30 s'],
    [125_000, '2 min 5 s'],
    [120_000, '2 min'],
  ])('%d ms -> %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
