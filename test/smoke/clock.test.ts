/** Clock skew with round-trip correction: parsing, offset estimation (property test), verdicts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClockOffset, estimateOffset, judgeSkew, parseEpochSeconds } from '../../src/smoke/clock.js';

describe('parseEpochSeconds', () => {
  it('reads `date +%s.%N` with nanoseconds into ms, keeping microseconds', () => {
    expect(parseEpochSeconds('1768478400.123456789\n')).toBeCloseTo(1768478400123.456789, 3);
    expect(parseEpochSeconds('1768478400.5')).toBe(1768478400500);
    expect(parseEpochSeconds('1768478400')).toBe(1768478400000);
  });
  it('refuses a date without nanoseconds support (busybox prints %N literally)', () => {
    expect(() => parseEpochSeconds('1768478400.N')).toThrow(/not an epoch time/);
    expect(() => parseEpochSeconds('')).toThrow();
  });
});

describe('estimateOffset', () => {
  it('uses the sample with the smallest round trip', () => {
    const o = estimateOffset('node1', [
      { sentAt: 1000, receivedAt: 1100, remoteMs: 1500 },
      { sentAt: 2000, receivedAt: 2010, remoteMs: 2505 },
      { sentAt: 3000, receivedAt: 3050, remoteMs: 3600 },
    ]);
    expect(o).toEqual({ host: 'node1', offsetMs: 500, uncertaintyMs: 5, rttMs: 10, samples: 3 });
  });

  it('the true offset is always within the stated uncertainty (any delays, any offset)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -5000, max: 5000, noNaN: true }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 200, noNaN: true }), fc.double({ min: 0, max: 200, noNaN: true })), { minLength: 1, maxLength: 6 }),
        (trueOffset, delays) => {
          let t = 1_768_478_400_000;
          const samples = delays.map(([out, back]) => {
            const sentAt = t;
            const remoteMs = sentAt + out + trueOffset; // the remote reads its clock when the request arrives
            const receivedAt = sentAt + out + back;
            t = receivedAt + 7;
            return { sentAt, receivedAt, remoteMs };
          });
          const o = estimateOffset('h', samples);
          return Math.abs(o.offsetMs - trueOffset) <= o.uncertaintyMs + 1e-3; // doubles near 1.7e12 ms are exact to ~0.0002 ms
        },
      ),
    );
  });
});

describe('judgeSkew', () => {
  const off = (host: string, offsetMs: number, uncertaintyMs = 2): ClockOffset => ({ host, offsetMs, uncertaintyMs, rttMs: uncertaintyMs * 2, samples: 5 });

  it('passes well under the limit and names who is ahead', () => {
    const v = judgeSkew([off('node1', 3), off('node2', -1), off('node3', 0)], 1000);
    expect(v).toMatchObject({ status: 'passed', skewMs: 4, uncertaintyMs: 4, ahead: 'node1', behind: 'node2' });
    expect(v.message).toBe('max skew 4.0 ms ± 4.0 ms (node1 ahead of node2; limit 1000 ms)');
  });

  it('fails when the skew is surely over the limit', () => {
    const v = judgeSkew([off('node1', 0), off('node2', 1500)], 1000);
    expect(v).toMatchObject({ status: 'failed', ahead: 'node2', behind: 'node1' });
    expect(v.message).toBe('max skew 1500 ms ± 4.0 ms (node2 ahead of node1; limit 1000 ms)');
  });

  it('warns when only the measurement error could push it over the limit', () => {
    const v = judgeSkew([off('node1', 0, 100), off('node2', 950, 100)], 1000);
    expect(v.status).toBe('warning');
    expect(v.message).toMatch(/cannot confirm the skew is under the limit/);
  });
});
