/**
 * `k3s.configure`: /etc/rancher/k3s/config.yaml (server: external etcd, external containerd,
 * the inventory's network; agent: agent keys only, the endpoint's URL, node-ip, labels, taints)
 * and the k3s.service / k3s-agent.service unit. A changed unit gets one daemon-reload; starting
 * and restarting belong to k3s.start-servers and k3s.start-agents.
 */
import type { Step, StepContext } from '../../engine/types.js';
import { K3S_PATHS } from '../../render/cluster.js';
import { asText, observeDesired, planDesired, type DesiredState, type Observation } from '../lib/index.js';
import { K3S_DIRS, k3sConfigFiles } from './desired.js';

/** The config.yaml on the host now (text), for the agent's server address in endpoint mode none. */
export function currentConfig(o: Observation): string | null {
  const f = o.files.get(K3S_PATHS.config);
  return f?.type === 'file' && f.content ? (asText(f.content) ?? null) : null;
}

function desired(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>, current: string | null): DesiredState {
  return { dirs: [K3S_DIRS.config], files: k3sConfigFiles(ctx, current) };
}

export const k3sConfigure: Step<Observation> = {
  id: 'k3s.configure',
  title: 'Configure k3s (config.yaml and the systemd unit)',
  async check(ctx) {
    return observeDesired(ctx.remote, desired(ctx, null));
  },
  plan(observed, ctx) {
    return planDesired(desired(ctx, currentConfig(observed)), observed);
  },
};
