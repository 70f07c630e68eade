/**
 * The Kubernetes side of node lifecycle, through `k3s kubectl` on a running server (the tool
 * keeps no kubeconfig of its own for this): find a server whose k3s runs, delete a stale Node
 * object (and its k3s node-password secret) before a rebuilt host rejoins, drain a node before
 * it leaves. Without a running k3s server these are "not applicable" and say so.
 */
import type { Inventory } from '../inventory/schema.js';
import { servers } from '../render/cluster.js';
import { K3S_PATHS } from '../render/cluster.js';
import type { RemoteHost } from '../transport/types.js';

export interface K3sServer {
  name: string;
  remote: RemoteHost;
}

/** A server (other than `exclude`) whose k3s unit is active and that has the k3s binary; null when none. */
export async function findRunningServer(inv: Inventory, remotes: ReadonlyMap<string, RemoteHost>, exclude?: string): Promise<K3sServer | null> {
  for (const h of servers(inv)) {
    if (h.name === exclude) continue;
    const remote = remotes.get(h.name);
    if (!remote) continue;
    const res = await remote.exec(['sh', '-c', `test -x ${K3S_PATHS.binary} && systemctl is-active k3s.service`], { allowFailure: true, mutating: false, label: 'is k3s running' });
    if (res.exitCode === 0 && res.stdout.trim() === 'active') return { name: h.name, remote };
  }
  return null;
}

function kubectl(args: string[]): string[] {
  return [K3S_PATHS.binary, 'kubectl', ...args];
}

/** Delete the Node object and the k3s node-password secret of `node` (both may be absent). */
export async function deleteNodeObject(server: K3sServer, node: string): Promise<string> {
  const del = await server.remote.exec(kubectl(['delete', 'node', node, '--ignore-not-found', '--wait=true', '--timeout=60s']), { mutating: true, label: `delete node ${node}`, timeoutMs: 90_000 });
  await server.remote.exec(kubectl(['-n', 'kube-system', 'delete', 'secret', `${node}.node-password.k3s`, '--ignore-not-found']), { mutating: true, label: `delete the node password of ${node}` });
  return del.stdout.trim() || `no node object ${node}`;
}

/** Cordon and drain `node` (daemonsets stay, emptyDir data goes). */
export async function drainNode(server: K3sServer, node: string, timeoutSeconds = 180): Promise<void> {
  const exists = await server.remote.exec(kubectl(['get', 'node', node, '-o', 'name']), { allowFailure: true, mutating: false, label: `get node ${node}` });
  if (exists.exitCode !== 0) return;
  await server.remote.exec(kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', `--timeout=${timeoutSeconds}s`]), {
    mutating: true,
    label: `drain ${node}`,
    timeoutMs: (timeoutSeconds + 30) * 1000,
  });
}
