/**
 * Static routes between nodes' pod subnets for the bridge CNI mode (pure): on every node, one
 * route per other node's pod subnet via that node's address (what "Kubernetes the hard way"
 * does by hand), rendered into /usr/local/lib/kubi/pod-routes.sh by src/render/cni.ts.
 */
import { EXIT, KubiError } from '../errors.js';
import { parseCidr, parseIpv4 } from './ipv4.js';

export interface PodRoute {
  /** the other node's pod subnet */
  dst: string;
  /** the other node's address */
  via: string;
  /** the node the subnet belongs to (for comments and messages) */
  node: string;
}

/** Routes protocol number that marks routes kubi-provision owns (`ip route ... proto 77`), so stale ones can be found and removed. */
export const POD_ROUTE_PROTO = 77;

/**
 * Routes `hostName` needs: one per other node that has a pod subnet, in the order of `nodes`.
 * Every node in `nodes` must have a subnet in `subnets`.
 */
export function podRoutesFor(
  hostName: string,
  nodes: readonly { name: string; address: string }[],
  subnets: Readonly<Record<string, string>>,
): PodRoute[] {
  if (!nodes.some((n) => n.name === hostName)) {
    throw new KubiError('unknown-host', `${hostName} is not one of the cluster's nodes`, { exitCode: EXIT.invalidInput });
  }
  const routes: PodRoute[] = [];
  for (const node of nodes) {
    const dst = subnets[node.name];
    if (dst === undefined) {
      throw new KubiError('missing-pod-subnet', `node ${node.name} has no pod subnet`, {
        hint: 'allocate subnets for every node with allocatePodSubnets() first',
      });
    }
    parseCidr(dst, `pod subnet of ${node.name}`);
    parseIpv4(node.address, `address of ${node.name}`);
    if (node.name === hostName) continue;
    routes.push({ dst, via: node.address, node: node.name });
  }
  return routes;
}
