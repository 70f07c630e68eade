/**
 * Clock skew between nodes, measured properly (pure math; the sampling lives in layers/hosts.ts).
 *
 * Each sample: the workstation notes its time before sending `date +%s.%N` and after the answer
 * arrives; the remote reading was taken somewhere in between, so
 *   offset = remote - (sent + received) / 2,   with an error of at most rtt / 2.
 * The sample with the smallest round trip is the most precise one. Offsets are relative to the
 * workstation clock, which cancels out when offsets of two nodes are compared (skew = max - min),
 * as long as the workstation clock does not jump during the few milliseconds of sampling.
 */

export interface ClockSample {
  /** workstation ms before sending */
  sentAt: number;
  /** workstation ms after receiving */
  receivedAt: number;
  /** remote ms since the epoch */
  remoteMs: number;
}

export interface ClockOffset {
  host: string;
  /** remote minus workstation, ms */
  offsetMs: number;
  /** maximum error of offsetMs: half the round trip of the best sample */
  uncertaintyMs: number;
  rttMs: number;
  samples: number;
}

/** `date +%s.%N` -> ms since the epoch (keeps microseconds). Throws on anything else (e.g. a date without %N). */
export function parseEpochSeconds(text: string): number {
  const t = text.trim();
  const m = t.match(/^(\d+)(?:\.(\d{1,9}))?$/);
  if (!m) throw new Error(`not an epoch time with fractions: ${JSON.stringify(t.slice(0, 40))}`);
  const frac = (m[2] ?? '').padEnd(9, '0');
  return Number(m[1]) * 1000 + Number(frac) / 1e6;
}

export function estimateOffset(host: string, samples: readonly ClockSample[]): ClockOffset {
  if (samples.length === 0) throw new Error(`no clock samples for ${host}`);
  let best = samples[0]!;
  for (const s of samples) if (s.receivedAt - s.sentAt < best.receivedAt - best.sentAt) best = s;
  const rtt = Math.max(0, best.receivedAt - best.sentAt);
  return {
    host,
    offsetMs: best.remoteMs - (best.sentAt + best.receivedAt) / 2,
    uncertaintyMs: rtt / 2,
    rttMs: rtt,
    samples: samples.length,
  };
}

export interface SkewVerdict {
  status: 'passed' | 'warning' | 'failed';
  /** largest difference between two nodes' offsets */
  skewMs: number;
  /** error bound of skewMs */
  uncertaintyMs: number;
  ahead: string;
  behind: string;
  message: string;
}

/**
 * Skew = max offset - min offset. Failed when skew - uncertainty is still >= the limit (surely too
 * large), warning when only the uncertainty makes it reach the limit (cannot confirm), else passed.
 */
export function judgeSkew(offsets: readonly ClockOffset[], limitMs: number): SkewVerdict {
  if (offsets.length === 0) throw new Error('no clock offsets');
  let ahead = offsets[0]!;
  let behind = offsets[0]!;
  for (const o of offsets) {
    if (o.offsetMs > ahead.offsetMs) ahead = o;
    if (o.offsetMs < behind.offsetMs) behind = o;
  }
  const skewMs = ahead.offsetMs - behind.offsetMs;
  const uncertaintyMs = ahead === behind ? ahead.uncertaintyMs : ahead.uncertaintyMs + behind.uncertaintyMs;
  const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
  const pair = offsets.length < 2 ? 'one node' : `${ahead.host} ahead of ${behind.host}`;
  const what = `max skew ${fmt(skewMs)} ms ± ${fmt(uncertaintyMs)} ms (${pair}; limit ${limitMs} ms)`;
  let status: SkewVerdict['status'] = 'passed';
  if (skewMs - uncertaintyMs >= limitMs) status = 'failed';
  else if (skewMs + uncertaintyMs >= limitMs) status = 'warning';
  const message =
    status === 'warning' ? `${what}: cannot confirm the skew is under the limit, round trips are too slow` : what;
  return { status, skewMs, uncertaintyMs, ahead: ahead.host, behind: behind.host, message };
}
