/**
 * The connections to the OTHER hosts of a run, for steps that must work through another member
 * (etcd.members asks a healthy etcd member to add this host). The CLI wiring puts the run's
 * RemoteHost map into `cluster.services.remotes`; without it a step sees no peers.
 */
import type { ClusterContext } from '../../engine/types.js';
import type { RemoteHost } from '../../transport/types.js';

export const PEERS_SERVICE = 'remotes';

/** The run's connected hosts by name (empty when the wiring gave none). */
export function peerRemotes(cluster: Pick<ClusterContext, 'services'>): ReadonlyMap<string, RemoteHost> {
  const value = cluster.services[PEERS_SERVICE];
  return value instanceof Map ? (value as ReadonlyMap<string, RemoteHost>) : new Map();
}
