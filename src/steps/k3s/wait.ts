/**
 * Polling with a timeout, shared by the containerd, CNI, endpoint and k3s steps: run a read-only
 * probe until it says "ready", sleeping with the run's injected clock; give up after the timeout
 * with an error that says what was waited for, on which host, and the probe's last output. A
 * probe may also end the wait at once with a failure (a unit that failed for good).
 */
import { KubiError } from '../../errors.js';
import type { StepContext } from '../../engine/types.js';

export type ProbeVerdict = { state: 'ready' } | { state: 'waiting'; evidence: string } | { state: 'failed'; reason: string; evidence: string };

export interface WaitOptions {
  /** what is awaited, for messages: "the k3s API on node1 to answer /readyz" */
  purpose: string;
  timeoutMs: number;
  intervalMs: number;
  /** error code on timeout */
  code: string;
  hint: string;
}

/** Keep only the last lines of a probe's output for an error message. */
export function tail(text: string, lines = 12): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function waitUntil(ctx: Pick<StepContext, 'cluster' | 'host' | 'report'>, probe: () => Promise<ProbeVerdict>, opts: WaitOptions): Promise<void> {
  const start = ctx.cluster.now().getTime();
  let last = '';
  let reported = false;
  for (;;) {
    if (ctx.cluster.signal.aborted) throw new KubiError('interrupted', `stopped while waiting for ${opts.purpose}`, { host: ctx.host.name });
    const v = await probe();
    if (v.state === 'ready') return;
    if (v.state === 'failed') {
      throw new KubiError(opts.code, `${opts.purpose}: ${v.reason}`, { host: ctx.host.name, hint: `${opts.hint}\nlast output:\n${tail(v.evidence)}` });
    }
    last = v.evidence;
    const elapsed = ctx.cluster.now().getTime() - start;
    if (elapsed >= opts.timeoutMs) {
      throw new KubiError(opts.code, `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${opts.purpose}`, {
        host: ctx.host.name,
        hint: `${opts.hint}\nlast output:\n${tail(last) || '(none)'}`,
      });
    }
    if (!reported) {
      ctx.report(`waiting for ${opts.purpose}`);
      reported = true;
    }
    await ctx.cluster.sleep(opts.intervalMs);
  }
}
