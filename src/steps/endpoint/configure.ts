/**
 * `endpoint.configure` on the servers, per endpoint.mode:
 *  - keepalived: keepalived.conf (unicast VRRP between the servers, the VIP on the interface of
 *    the host's address) and the health check of the local API server; the service enabled and
 *    running, reloaded when either file changed;
 *  - kube-vip: the static pod manifest in k3s's pod-manifests directory (the kubelet runs it
 *    once k3s is up);
 *  - none: nothing.
 * Switching modes removes what kubi wrote for the other mode (keepalived only when its config
 * carries kubi's managed notice, so a keepalived of the user's own is left alone).
 */
import type { Change, Step, StepContext } from '../../engine/types.js';
import { MANAGED_NOTICE } from '../../render/engine.js';
import { ENDPOINT_PATHS, endpointFiles } from '../../render/endpoint.js';
import { K3S_PATHS } from '../../render/cluster.js';
import { observeRequestFor, planDeletes, planDesired, type DesiredState, type Observation, type ObserveRequest } from '../lib/index.js';
import { observe } from '../lib/observe.js';
import { vipPlacement } from './host-network.js';

export const KEEPALIVED_UNIT = 'keepalived.service';
const root = { owner: 'root', group: 'root' } as const;

export function endpointDesired(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): DesiredState {
  const inv = ctx.cluster.inventory;
  if (inv.endpoint.mode === 'none') return {};
  const files = endpointFiles(inv, ctx.host, vipPlacement(inv, ctx.host, ctx.facts)).map((f) => ({
    path: f.path,
    content: f.content,
    mode: f.mode,
    ...root,
    ...(f.secret ? { secret: true } : {}),
  }));
  if (inv.endpoint.mode === 'kube-vip') return { dirs: [{ path: K3S_PATHS.staticPods, mode: 0o755, ...root }], files };
  return {
    dirs: [{ path: '/etc/keepalived', mode: 0o755, ...root }],
    files,
    services: [{ unit: KEEPALIVED_UNIT, inputs: { files }, onChange: 'reload' }],
  };
}

/** What to observe: the desired state plus the other modes' files (to clean them up). */
export function endpointObserveRequest(d: DesiredState): ObserveRequest {
  const base = observeRequestFor(d);
  const files = [...new Set([...(base.files ?? []), ENDPOINT_PATHS.keepalivedConf, ENDPOINT_PATHS.checkScript, ENDPOINT_PATHS.kubeVipManifest])];
  const content = [...new Set([...((base.content as string[] | undefined) ?? []), ENDPOINT_PATHS.keepalivedConf])];
  return { files, content, units: [...new Set([...(base.units ?? []), KEEPALIVED_UNIT])] };
}

/** Pure plan: the mode's desired state, then the cleanup of the other modes. */
export function planEndpoint(mode: 'keepalived' | 'kube-vip' | 'none', d: DesiredState, o: Observation): Change[] {
  const changes = planDesired(d, o);
  if (mode !== 'kube-vip') changes.push(...planDeletes([ENDPOINT_PATHS.kubeVipManifest], o));
  if (mode !== 'keepalived') {
    const conf = o.files.get(ENDPOINT_PATHS.keepalivedConf);
    const ours = conf?.type === 'file' && conf.content !== undefined && conf.content.toString('utf8').includes(MANAGED_NOTICE);
    if (ours) {
      const unit = o.units.get(KEEPALIVED_UNIT);
      if (unit && (unit.active === 'active' || unit.active === 'activating')) changes.push({ kind: 'service', unit: KEEPALIVED_UNIT, action: 'stop' });
      if (unit && unit.enabled === 'enabled') changes.push({ kind: 'service', unit: KEEPALIVED_UNIT, action: 'disable' });
      changes.push(...planDeletes([ENDPOINT_PATHS.keepalivedConf, ENDPOINT_PATHS.checkScript], o));
    }
  }
  return changes;
}

export const endpointConfigure: Step<Observation> = {
  id: 'endpoint.configure',
  title: 'Configure the highly available API endpoint',
  async check(ctx) {
    return observe(ctx.remote, endpointObserveRequest(endpointDesired(ctx)));
  },
  plan(observed, ctx) {
    return planEndpoint(ctx.cluster.inventory.endpoint.mode, endpointDesired(ctx), observed);
  },
};
