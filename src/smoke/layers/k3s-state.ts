/**
 * Is k3s running? `systemctl is-active k3s` on every reachable server (memoized for the run, and
 * re-read on demand by chaos). The Kubernetes layer, the endpoint's API check and chaos use it.
 */
import type { Host } from '../../inventory/schema.js';
import { hostsWith, isReachable, remoteFor, type SmokeContext } from '../context.js';

export interface K3sState {
  /** server name -> `systemctl is-active k3s` output (active, inactive, failed, unknown...) */
  servers: Map<string, string>;
  /** servers where k3s is active, inventory order */
  active: string[];
}

export async function readK3sState(ctx: SmokeContext): Promise<K3sState> {
  const servers = new Map<string, string>();
  await Promise.all(
    hostsWith(ctx, 'server')
      .filter((h) => isReachable(ctx, h.name))
      .map(async (h: Host) => {
        const r = await remoteFor(ctx, h.name).exec(['systemctl', 'is-active', 'k3s'], {
          sudo: false,
          allowFailure: true,
          label: 'verify: is k3s running',
          mutating: false,
        });
        servers.set(h.name, r.stdout.trim() || `exit ${r.exitCode}`);
      }),
  );
  const active = hostsWith(ctx, 'server')
    .map((h) => h.name)
    .filter((n) => servers.get(n) === 'active');
  return { servers, active };
}

export function k3sState(ctx: SmokeContext): Promise<K3sState> {
  return ctx.memo('k3s-state', () => readK3sState(ctx));
}
