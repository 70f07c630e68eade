/** Renders every file of every host of an inventory, the way the steps will, for tests that check all output at once. */
import type { Inventory } from '../../../src/inventory/schema.js';
import { allocatePodSubnets } from '../../../src/network/pod-subnets.js';
import {
  cniFiles,
  containerdFiles,
  endpointFiles,
  etcdFiles,
  hasRole,
  hostPrepFiles,
  k3sAgentFiles,
  k3sServerFiles,
  kubeNodes,
  type RenderedFile,
} from '../../../src/render/index.js';

export interface HostFile extends RenderedFile {
  host: string;
}

export function renderAll(inv: Inventory): HostFile[] {
  const subnets = allocatePodSubnets(kubeNodes(inv).map((h) => h.name), inv.network.podCidr, inv.network.nodeCidrMaskSize);
  const firstServer = inv.hosts.find((h) => hasRole(h, 'server'));
  const out: HostFile[] = [];
  for (const h of inv.hosts) {
    const files: RenderedFile[] = [...hostPrepFiles()];
    if (hasRole(h, 'etcd')) files.push(...etcdFiles(inv, h, { initialClusterState: 'new' }));
    if (hasRole(h, 'server') || hasRole(h, 'agent')) {
      files.push(...containerdFiles(inv), ...cniFiles(inv, h, subnets));
    }
    if (hasRole(h, 'server')) {
      files.push(...k3sServerFiles(inv, h), ...endpointFiles(inv, h, { interface: 'eth0', prefixLength: 24 }));
    } else if (hasRole(h, 'agent')) {
      files.push(...k3sAgentFiles(inv, h, { serverAddress: firstServer!.address }));
    }
    out.push(...files.map((f) => ({ ...f, host: h.name })));
  }
  return out;
}
