/**
 * Running the `up` playbook as part of a lifecycle command, and telling how it went: one summary
 * line per phase; a run that stopped only because the k3s binary is missing (the lab, an
 * offline directory without k3s) counts as done for everything before k3s, and the k3s part is
 * reported as not applicable.
 */
import { KubiError } from '../errors.js';
import type { RunResult } from '../engine/run.js';
import { renderSummary } from '../engine/report.js';
import type { Selection } from '../engine/select.js';
import type { Session } from './session.js';

export const K3S_MISSING_CODE = 'k3s-binary-missing';

export interface PhaseOutcome {
  result: RunResult;
  /** the k3s part could not run (no binary): why */
  k3sNotApplicable: string | null;
}

/** Run `up` on `hosts`; throws a KubiError when it failed for any other reason than a missing k3s binary. */
export async function runUpPhase(session: Session, title: string, hosts: readonly string[], selection: Selection, print: (line: string) => void): Promise<PhaseOutcome> {
  session.say(`${title}: up on ${hosts.join(', ')}${selection.until ? ` (until ${selection.until})` : ''}`);
  const result = await session.runPlaybook('up', { hosts, selection });
  const missingK3s = result.failure?.error.code === K3S_MISSING_CODE;
  if (!result.ok && !missingK3s) {
    print(`${title}: ${renderSummary(result)}`);
    const f = result.failure;
    throw new KubiError(f?.error.code ?? 'run-failed', `${title} failed${f ? `: ${f.host === '(local)' ? '' : `${f.host}: `}${f.step}: ${f.error.message}` : result.interrupted ? ': interrupted' : ''}`, {
      hint: f?.error.hint ?? 'see the run log',
      ...(f?.error ? { cause: f.error } : {}),
    });
  }
  const k3sNotApplicable = missingK3s ? `the k3s binary is missing (${result.failure!.error.message}); everything before k3s ran` : null;
  // without a k3s binary: summarise what ran, without the preflight that stopped the run
  const shown: RunResult = missingK3s ? { ...result, ok: true, steps: result.steps.filter((s) => s.id !== result.failure!.step), notRun: [] } : result;
  if (missingK3s) delete shown.failure;
  const lines = renderSummary(shown).split('\n');
  print(`${title}: ${lines[0]}`);
  if (k3sNotApplicable) print(`${title}: k3s: not applicable here: ${k3sNotApplicable}`);
  return { result, k3sNotApplicable };
}
