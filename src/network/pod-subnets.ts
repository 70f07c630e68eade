/**
 * Pod subnet per node for the bridge CNI mode (pure).
 *
 * The rule, so that a node's pod subnet never moves while the node exists:
 *  1. The pod CIDR is cut into blocks of `/maskSize`, numbered from its start.
 *  2. A host keeps the subnet it had in `previous` when that subnet is still a `/maskSize` block
 *     inside the pod CIDR and no host earlier in `hostNames` already kept the same block.
 *  3. Every other host, in the order of `hostNames` (the inventory order), gets the lowest free block.
 * Without `previous` the result therefore depends only on the order of `hostNames`: host i of a fresh
 * cluster gets block i. Hosts missing from `hostNames` are dropped and their blocks become free,
 * but a block is only reused by a host that is new to `previous` — pass the previous assignment
 * (read back from the nodes or the state directory) to keep assignments stable when hosts are
 * added or removed.
 */
import { EXIT, KubiError } from '../errors.js';
import { formatCidr, parseCidr, cidrContains, prefixSize, type Ipv4Cidr } from './ipv4.js';

export function allocatePodSubnets(
  hostNames: readonly string[],
  podCidr: string,
  maskSize: number,
  previous?: Readonly<Record<string, string>>,
): Record<string, string> {
  const pool = parseCidr(podCidr, 'pod CIDR');
  if (!Number.isInteger(maskSize) || maskSize < pool.prefix || maskSize > 32) {
    throw new KubiError('invalid-node-cidr-mask', `node pod subnet size /${maskSize} does not fit in the pod CIDR ${podCidr}`, {
      exitCode: EXIT.invalidInput,
      hint: `set network.nodeCidrMaskSize between ${pool.prefix} and 32 (usually 24)`,
    });
  }
  const seen = new Set<string>();
  for (const name of hostNames) {
    if (seen.has(name)) {
      throw new KubiError('duplicate-host', `host name ${name} appears twice`, { exitCode: EXIT.invalidInput, hint: 'give every host a unique name' });
    }
    seen.add(name);
  }

  const blockSize = prefixSize(maskSize);
  const blocks = prefixSize(pool.prefix) / blockSize;
  const taken = new Set<number>();
  const assigned = new Map<string, number>();

  for (const name of hostNames) {
    const index = keptIndex(previous?.[name], pool, maskSize);
    if (index !== null && !taken.has(index)) {
      taken.add(index);
      assigned.set(name, index);
    }
  }

  let next = 0;
  for (const name of hostNames) {
    if (assigned.has(name)) continue;
    while (taken.has(next)) next++;
    if (next >= blocks) {
      throw new KubiError('pod-cidr-exhausted', `the pod CIDR ${podCidr} has room for ${blocks} node subnets of /${maskSize}, ${hostNames.length} nodes need one`, {
        exitCode: EXIT.invalidInput,
        hint: 'use a larger network.podCidr or a larger network.nodeCidrMaskSize (smaller subnets per node)',
      });
    }
    taken.add(next);
    assigned.set(name, next);
  }

  const out: Record<string, string> = {};
  for (const name of hostNames) {
    out[name] = formatCidr({ network: pool.network + assigned.get(name)! * blockSize, prefix: maskSize });
  }
  return out;
}

/** The block index of a previous assignment, or null when it is unusable (garbage, other size, outside the pool). */
function keptIndex(value: string | undefined, pool: Ipv4Cidr, maskSize: number): number | null {
  if (value === undefined) return null;
  let c: Ipv4Cidr;
  try {
    c = parseCidr(value);
  } catch {
    return null;
  }
  if (c.prefix !== maskSize || !cidrContains(pool, c)) return null;
  return (c.network - pool.network) / prefixSize(maskSize);
}
