/**
 * `cni.configure`: bridge mode: this node's bridge conflist (its pod subnet from cni.subnets),
 * the loopback config, and the routes to every other node's pod subnet: a script run by a
 * oneshot unit at boot (so they survive reboots) and applied now. The unit is restarted when the
 * script changed; when the routes on the host differ from the wanted ones (someone removed one),
 * the script runs again. Flannel mode: k3s writes its own CNI config, so kubi's files, unit and
 * routes are removed where an earlier bridge setup left them.
 */
import type { Change, Step, StepContext } from '../../engine/types.js';
import { CNI_PATHS, cniFiles } from '../../render/cni.js';
import { POD_ROUTE_PROTO, podRoutesFor, type PodRoute } from '../../network/routes.js';
import { kubeNodes } from '../../render/cluster.js';
import { observeRequestFor, planDeletes, planDesired, type DesiredState, type Observation } from '../lib/index.js';
import { observeWithExtra } from '../host/script.js';
import { podSubnets } from './subnets.js';

export const ROUTES_UNIT = 'kubi-pod-routes.service';
const root = { owner: 'root', group: 'root' } as const;

export interface CniObserved {
  observation: Observation;
  /** kubi's routes on the host now (proto 77) */
  routes: { dst: string; via: string }[];
}

async function desired(ctx: Pick<StepContext, 'cluster' | 'host'>): Promise<{ state: DesiredState; routes: PodRoute[] }> {
  const inv = ctx.cluster.inventory;
  const subnets = await podSubnets(ctx.cluster);
  const files = cniFiles(inv, ctx.host, subnets).map((f) => ({ path: f.path, content: f.content, mode: f.mode, ...root }));
  const routes = podRoutesFor(ctx.host.name, kubeNodes(inv).map((n) => ({ name: n.name, address: n.address })), subnets);
  return {
    routes,
    state: {
      dirs: [
        { path: '/etc/cni/net.d', mode: 0o755, ...root },
        { path: '/usr/local/lib/kubi', mode: 0o755, ...root },
      ],
      files,
      services: [
        {
          unit: ROUTES_UNIT,
          // a restart of the oneshot unit runs the script again
          inputs: { files: files.filter((f) => f.path === CNI_PATHS.routesScript || f.path === CNI_PATHS.routesUnit) },
        },
      ],
    },
  };
}

const FLANNEL_LEFTOVERS = [CNI_PATHS.conflist, CNI_PATHS.loopback, CNI_PATHS.routesScript, CNI_PATHS.routesUnit];

/** Read-only: kubi's routes. */
export const ROUTES_SCRIPT = `ip -4 route show proto ${POD_ROUTE_PROTO} 2>/dev/null; true`;

/** Pure: `ip -4 route show proto 77` lines -> destination and next hop. */
export function parseRoutes(text: string): { dst: string; via: string }[] {
  const out: { dst: string; via: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+\/\d+)\s+via\s+(\d+\.\d+\.\d+\.\d+)/.exec(line.trim());
    if (m) out.push({ dst: m[1]!, via: m[2]! });
  }
  return out.sort((a, b) => a.dst.localeCompare(b.dst));
}

export function sameRoutes(want: readonly PodRoute[], have: readonly { dst: string; via: string }[]): boolean {
  const w = want.map((r) => `${r.dst} ${r.via}`).sort();
  const h = have.map((r) => `${r.dst} ${r.via}`).sort();
  return w.length === h.length && w.every((x, i) => x === h[i]);
}

/** Pure plan of cni.configure in bridge mode. */
export function planBridge(state: DesiredState, routes: readonly PodRoute[], o: CniObserved): Change[] {
  const changes = planDesired(state, o.observation);
  const rerunsScript = changes.some((c) => c.kind === 'service' && c.unit === ROUTES_UNIT && c.action !== 'enable');
  if (!rerunsScript && !sameRoutes(routes, o.routes)) {
    changes.push({ kind: 'command', title: 'apply the pod routes now', argv: [CNI_PATHS.routesScript] });
  }
  return changes;
}

/** Pure plan of cni.configure in flannel mode: remove what an earlier bridge setup left. */
export function planFlannelCleanup(o: CniObserved): Change[] {
  const changes = planDeletes(FLANNEL_LEFTOVERS, o.observation);
  const unit = o.observation.units.get(ROUTES_UNIT);
  if (unit && unit.enabled === 'enabled') changes.push({ kind: 'service', unit: ROUTES_UNIT, action: 'disable' });
  if (changes.some((c) => c.kind === 'delete' && c.path === CNI_PATHS.routesUnit)) changes.push({ kind: 'service', unit: 'systemd', action: 'daemon-reload' });
  if (o.routes.length > 0) changes.push({ kind: 'command', title: 'remove the bridge-mode pod routes', argv: ['ip', '-4', 'route', 'flush', 'proto', String(POD_ROUTE_PROTO)] });
  return changes;
}

export const cniConfigure: Step<CniObserved> = {
  id: 'cni.configure',
  title: 'Configure the pod network (bridge CNI and routes between nodes)',
  async check(ctx) {
    const req =
      ctx.cluster.inventory.network.cni === 'bridge'
        ? observeRequestFor((await desired(ctx)).state)
        : { files: FLANNEL_LEFTOVERS, units: [ROUTES_UNIT] };
    const { observation, extra } = await observeWithExtra(ctx.remote, req, ROUTES_SCRIPT, 'observe the CNI configuration and pod routes');
    return { observation, routes: parseRoutes(extra) };
  },
  async plan(observed, ctx) {
    if (ctx.cluster.inventory.network.cni !== 'bridge') return planFlannelCleanup(observed);
    const d = await desired(ctx);
    return planBridge(d.state, d.routes, observed);
  },
};
