/**
 * `k3s.start-servers` (serial, rolling: one server at a time) and `k3s.start-agents`: the unit
 * enabled and running, restarted only when an input of the running process changed (binary,
 * token, datastore certificate, config, unit: the fingerprint). Starts and restarts do not block
 * (k3s is Type=notify with TimeoutStartSec=0: a blocking start could wait forever); the step then
 * waits with a timeout: a server until its API answers /readyz, an agent until its node is Ready.
 * The fingerprint is recorded only after the start was issued.
 */
import { applyChanges, fingerprintScript } from '../../engine/apply.js';
import type { Change, Step, StepContext } from '../../engine/types.js';
import { K3S_PATHS } from '../../render/cluster.js';
import { quoteWord } from '../../transport/quote.js';
import { fingerprintPathOf, observe, planServices, type Observation } from '../lib/index.js';
import { SECTION_FN, parseKeyValues, sections } from '../host/script.js';
import { K3S_BINARY_PATH } from './artifact.js';
import { currentConfig } from './configure.js';
import { k3sService, unitOf } from './desired.js';
import { tail, waitUntil, type ProbeVerdict } from './wait.js';

export const KUBELET_KUBECONFIG = '/var/lib/rancher/k3s/agent/kubelet.kubeconfig';
export const SERVER_READY_TIMEOUT_MS = 10 * 60_000;
export const AGENT_READY_TIMEOUT_MS = 10 * 60_000;

async function observeStart(ctx: StepContext): Promise<Observation> {
  const unit = unitOf(ctx.host);
  const fp = fingerprintPathOf({ unit });
  return observe(ctx.remote, { files: [fp, K3S_PATHS.config], content: [fp, K3S_PATHS.config], units: [unit] });
}

async function planStart(observed: Observation, ctx: StepContext): Promise<Change[]> {
  return planServices([await k3sService(ctx, currentConfig(observed))], observed);
}

/** argv of a service change without blocking on Type=notify (null: the generic form is fine). */
export function noBlockArgv(c: Extract<Change, { kind: 'service' }>): string[][] {
  switch (c.action) {
    case 'enable-now':
      return [
        ['systemctl', 'enable', c.unit],
        ['systemctl', 'start', '--no-block', c.unit],
      ];
    case 'start':
    case 'restart':
      return [['systemctl', c.action, '--no-block', c.unit]];
    default:
      return [['systemctl', c.action, c.unit]];
  }
}

async function applyNoBlock(changes: Change[], ctx: StepContext): Promise<void> {
  await applyChanges(ctx.remote, changes.filter((c) => c.kind !== 'service'));
  const services = changes.filter((c): c is Extract<Change, { kind: 'service' }> => c.kind === 'service');
  if (services.some((s) => s.action === 'daemon-reload')) await ctx.remote.exec(['systemctl', 'daemon-reload'], { mutating: true, label: 'reload systemd units' });
  for (const s of services) {
    if (s.action === 'daemon-reload') continue;
    for (const argv of noBlockArgv(s)) await ctx.remote.exec(argv, { mutating: true, label: `${s.action} ${s.unit}` });
    if (s.fingerprint) await ctx.remote.script(fingerprintScript(s.fingerprint), { mutating: true, label: `record fingerprint of ${s.unit}` });
  }
}

/** The read-only probe of a k3s unit plus one readiness command; sections unit, ready, journal. */
export function readinessScript(unit: string, readyCommand: string): string {
  return `${SECTION_FN}
export LC_ALL=C
s unit; systemctl show -p ActiveState -p SubState -p NRestarts ${quoteWord(unit)} 2>/dev/null
s ready; ${readyCommand} 2>&1 | tail -n 5
s journal; if [ "$(systemctl is-active ${quoteWord(unit)} 2>/dev/null)" != active ]; then journalctl -u ${quoteWord(unit)} -n 15 --no-pager -o cat 2>/dev/null; fi
`;
}

export function serverReadyCommand(): string {
  return `timeout 10 ${K3S_BINARY_PATH} kubectl --kubeconfig ${K3S_PATHS.kubeconfig} get --raw /readyz </dev/null`;
}

export function agentReadyCommand(node: string): string {
  return `timeout 10 ${K3S_BINARY_PATH} kubectl --kubeconfig ${KUBELET_KUBECONFIG} get node ${quoteWord(node)} -o ${quoteWord('jsonpath={.status.conditions[?(@.type=="Ready")].status}')} </dev/null; echo`;
}

/**
 * Pure: one probe's output -> verdict. `firstRestarts` is the restart count at the first probe:
 * a unit that restarted 4 more times since keeps crashing, and the wait ends with its journal.
 */
export function evaluateReadiness(output: string, want: 'ok' | 'True', firstRestarts: number | null): { verdict: ProbeVerdict; restarts: number } {
  const sec = sections(output);
  const unit = parseKeyValues(sec('unit'));
  const restarts = Number(unit.get('NRestarts') ?? '0') || 0;
  const ready = sec('ready').trim().split('\n').map((l) => l.trim());
  const evidence = [`unit: ${unit.get('ActiveState') ?? '?'} (${unit.get('SubState') ?? '?'}), restarts ${restarts}`, ...ready, sec('journal')].filter((l) => l !== '').join('\n');
  if (unit.get('ActiveState') === 'active' && ready.includes(want)) return { verdict: { state: 'ready' }, restarts };
  if (firstRestarts !== null && restarts - firstRestarts >= 4) return { verdict: { state: 'failed', reason: `the unit keeps restarting (${restarts - firstRestarts} restarts while waiting)`, evidence: tail(evidence, 20) }, restarts };
  return { verdict: { state: 'waiting', evidence }, restarts };
}

async function waitReady(ctx: StepContext, kind: 'server' | 'agent'): Promise<void> {
  const unit = unitOf(ctx.host);
  const script = readinessScript(unit, kind === 'server' ? serverReadyCommand() : agentReadyCommand(ctx.host.name));
  let first: number | null = null;
  await waitUntil(
    ctx,
    async () => {
      const out = (await ctx.remote.script(script, { mutating: false, allowFailure: true, label: kind === 'server' ? 'probe the k3s API' : 'probe the node' })).stdout;
      const r = evaluateReadiness(out, kind === 'server' ? 'ok' : 'True', first);
      if (first === null) first = r.restarts;
      return r.verdict;
    },
    {
      purpose: kind === 'server' ? `the k3s API on ${ctx.host.name} to answer /readyz` : `node ${ctx.host.name} to be Ready`,
      timeoutMs: kind === 'server' ? SERVER_READY_TIMEOUT_MS : AGENT_READY_TIMEOUT_MS,
      intervalMs: 5_000,
      code: kind === 'server' ? 'k3s-server-not-ready' : 'k3s-node-not-ready',
      hint: `look at journalctl -u ${unit} on ${ctx.host.name}`,
    },
  );
}

function startStep(id: 'k3s.start-servers' | 'k3s.start-agents', kind: 'server' | 'agent'): Step<Observation> {
  return {
    id,
    title: kind === 'server' ? 'Start the k3s servers one at a time and wait for each API' : 'Start the k3s agents and wait until their nodes are Ready',
    check: observeStart,
    plan: planStart,
    apply: applyNoBlock,
    settle: (ctx) => waitReady(ctx, kind),
  };
}

export const k3sStartServers = startStep('k3s.start-servers', 'server');
export const k3sStartAgents = startStep('k3s.start-agents', 'agent');
