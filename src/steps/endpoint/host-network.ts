/**
 * Where the API VIP goes on a server (pure, from facts and the inventory): the interface (the
 * inventory's endpoint.interface, else the one holding the host's address) and the prefix length
 * of the servers' subnet (endpoint.subnet, else the prefix of the host's own address).
 */
import { KubiError } from '../../errors.js';
import { interfaceFor } from '../../facts/describe.js';
import type { Facts } from '../../facts/types.js';
import type { Host, Inventory } from '../../inventory/schema.js';

export interface VipPlacement {
  interface: string;
  prefixLength: number;
}

export function vipPlacement(inv: Inventory, host: Host, facts: Pick<Facts, 'interfaces'>): VipPlacement {
  const holding = interfaceFor(facts, host.address);
  const iface = inv.endpoint.interface ?? holding?.name;
  if (!iface) {
    throw new KubiError('vip-interface-unknown', `no interface holds ${host.address} on ${host.name}`, {
      host: host.name,
      hint: 'set endpoint.interface in the inventory to the interface that should carry the API VIP',
    });
  }
  let prefix: number | null = null;
  if (inv.endpoint.subnet) prefix = Number(inv.endpoint.subnet.split('/')[1]);
  else {
    const own = holding?.ipv4.find((a) => a.split('/')[0] === host.address);
    if (own && own.includes('/')) prefix = Number(own.split('/')[1]);
  }
  if (prefix === null || !Number.isInteger(prefix) || prefix < 1 || prefix > 32) {
    throw new KubiError('vip-prefix-unknown', `cannot tell the prefix length of ${host.address}'s subnet on ${host.name}`, {
      host: host.name,
      hint: 'set endpoint.subnet in the inventory, e.g. 192.168.1.0/24',
    });
  }
  return { interface: iface, prefixLength: prefix };
}
