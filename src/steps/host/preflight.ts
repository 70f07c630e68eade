/**
 * `host.preflight`: read-only checks that refuse a host before anything is changed: operating
 * system and architecture, memory and disk, ports taken by foreign processes, duplicate host
 * names or machine-ids, and peers that cannot be reached. It never plans a change: it either
 * passes (up to date) or fails with every problem of the host at once. Rules: preflight-rules.ts.
 */
import { KubiError } from '../../errors.js';
import type { Step, StepContext } from '../../engine/types.js';
import { quoteWord } from '../../transport/quote.js';
import { SECTION_FN, sections } from './script.js';
import {
  parseListeners,
  parseProbes,
  preflightProblems,
  probeTargets,
  type PreflightObserved,
  type Problem,
} from './preflight-rules.js';

/** seconds a TCP probe to a peer may take before it counts as a timeout */
export const PROBE_TIMEOUT_S = 3;

export function preflightScript(ctx: Pick<StepContext, 'host' | 'cluster'>): string {
  const targets = probeTargets(ctx.host, ctx.cluster.inventory);
  // one background job per peer: its ports in order (etcd's 2380 first); once one answered, the
  // path to that address is proven and the others are not probed (a probe of an SSH port costs
  // the peer's sshd a pre-auth session on every run)
  const byPeer = new Map<string, { address: string; ports: number[] }>();
  for (const t of targets) {
    const e = byPeer.get(t.peer) ?? { address: t.address, ports: [] };
    e.ports.push(t.port);
    byPeer.set(t.peer, e);
  }
  const probes = [...byPeer].map(([peer, e]) => `probe_peer ${quoteWord(peer)} ${quoteWord(e.address)} ${e.ports.join(' ')} &`).join('\n');
  return `${SECTION_FN}
export LC_ALL=C
s machine-id; cat /etc/machine-id 2>/dev/null
s listen; ss -Hltnp 2>/dev/null || ss -ltnp 2>/dev/null
s probes
probe() {
  out=$(timeout ${PROBE_TIMEOUT_S} bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then r=open
  elif [ $rc -eq 124 ]; then r=timeout
  else case "$out" in *refused*) r=refused ;; *) r=unreachable ;; esac
  fi
  echo "$1 $2 $3 $r $(printf '%s' "$out" | tail -n 1 | sed 's/^.*: //')"
}
probe_peer() {
  local peer=$1 addr=$2 port line proven=
  shift 2
  for port in "$@"; do
    if [ -n "$proven" ]; then echo "$peer $addr $port skipped the path is proven by port $proven"; continue; fi
    line=$(probe "$peer" "$addr" "$port")
    echo "$line"
    case "$line" in "$peer $addr $port open"*|"$peer $addr $port refused"*) proven=$port ;; esac
  done
}
${probes}
wait
`;
}

export function parsePreflight(output: string): PreflightObserved {
  const sec = sections(output);
  return {
    machineId: sec('machine-id').trim(),
    listeners: parseListeners(sec('listen')),
    probes: parseProbes(sec('probes')).sort((a, b) => a.peer.localeCompare(b.peer) || a.port - b.port),
  };
}

export class PreflightError extends KubiError {
  readonly problems: Problem[];
  constructor(host: string, problems: Problem[]) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1).map((p) => p.message).join('; ')})` : '';
    super('preflight-failed', `${problems[0]?.message ?? 'preflight failed'}${more}`, {
      host,
      step: 'host.preflight',
      hint: [...new Set(problems.map((p) => p.hint))].join('; '),
    });
    this.name = 'PreflightError';
    this.problems = problems;
  }
}

/**
 * Machine ids seen by this run's preflight checks, per run (keyed on the run's facts map, which
 * lives exactly as long as the run). Facts do not carry the machine-id, so each host's check
 * records its own here and compares with those recorded before it: of two clones, the one
 * checked second is refused, naming the first.
 */
const seenMachineIds = new WeakMap<object, Map<string, string>>();

function machineIdsOfRun(ctx: StepContext): Map<string, string> {
  let ids = seenMachineIds.get(ctx.cluster.facts);
  if (!ids) {
    ids = new Map();
    seenMachineIds.set(ctx.cluster.facts, ids);
  }
  return ids;
}

export interface PreflightState extends PreflightObserved {
  /** machine ids other hosts reported earlier in this run */
  otherMachineIds: Map<string, string>;
}

export const hostPreflight: Step<PreflightState> = {
  id: 'host.preflight',
  title: 'Check that the hosts can be provisioned',
  async check(ctx) {
    const res = await ctx.remote.script(preflightScript(ctx), { label: 'preflight checks', mutating: false, allowFailure: true });
    const observed = parsePreflight(res.stdout);
    const ids = machineIdsOfRun(ctx);
    const otherMachineIds = new Map([...ids].filter(([name]) => name !== ctx.host.name));
    if (observed.machineId) ids.set(ctx.host.name, observed.machineId);
    return { ...observed, otherMachineIds };
  },
  plan(observed, ctx) {
    const machineIds = observed.otherMachineIds;
    const problems = preflightProblems({
      host: ctx.host,
      inventory: ctx.cluster.inventory,
      facts: ctx.facts,
      allFacts: ctx.cluster.facts,
      machineIds,
      observed,
    });
    if (problems.length > 0) throw new PreflightError(ctx.host.name, problems);
    return [];
  },
};
