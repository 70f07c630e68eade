/**
 * gatherFacts: the only effectful part of facts. One read-only round trip per host
 * (`remote.script`, no sudo), then the pure parsers in parse.ts.
 */
import { describeError, isKubiError } from '../errors.js';
import type { RemoteHost } from '../transport/types.js';
import { FactsError, parseFacts } from './parse.js';
import { FACTS_SCRIPT } from './script.js';
import type { Facts } from './types.js';

export interface GatherOptions {
  /** per-command timeout for the facts script (default: the transport's) */
  timeoutMs?: number;
}

export async function gatherFacts(remote: RemoteHost, opts: GatherOptions = {}): Promise<Facts> {
  const result = await remote.script(FACTS_SCRIPT, {
    sudo: false,
    mutating: false,
    label: 'gather facts',
    allowFailure: true,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
  if (result.exitCode !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new FactsError(`the facts script exited with code ${result.exitCode}${tail ? `: ${tail}` : ''}`, {
      host: remote.name,
    });
  }
  try {
    return parseFacts(result.stdout, { host: remote.name });
  } catch (e) {
    if (isKubiError(e)) throw e;
    throw new FactsError(`could not parse host facts: ${describeError(e)}`, { host: remote.name, cause: e });
  }
}
