/**
 * Pod subnets of the bridge CNI mode: `cni.subnets` (a local step) keeps the allocation in
 * `<stateDir>/pod-subnets.json`, written atomically, and `podSubnets(cluster)` gives the host
 * steps the allocation of this run. The allocation (src/network/pod-subnets.ts) starts from the
 * saved one, so a node keeps its subnet when hosts are added or removed; a fresh cluster gives
 * node i of the inventory block i. The same function runs in plan and apply, so a plan shows
 * exactly the subnets `up` will use.
 */
import { KubiError } from '../../errors.js';
import type { Change, ClusterContext, LocalStep } from '../../engine/types.js';
import { allocatePodSubnets } from '../../network/pod-subnets.js';
import { kubeNodes } from '../../render/cluster.js';
import { readStateFile } from '../k3s/state-dir.js';

export const SUBNETS_FILE = 'pod-subnets.json';

export interface SavedSubnets {
  /** the pod CIDR and mask the allocation was made in */
  podCidr: string;
  maskSize: number;
  /** node name -> subnet */
  subnets: Record<string, string>;
}

/** Pure: the saved allocation, or an error naming the file when it is not one. */
export function parseSavedSubnets(text: string): SavedSubnets {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new KubiError('pod-subnets-invalid', `${SUBNETS_FILE} in the state directory is not JSON: ${(e as Error).message}`, {
      hint: `restore it from a backup (it keeps each node's pod subnet stable); remove it only for a cluster without running pods`,
    });
  }
  const d = doc as Partial<SavedSubnets>;
  const subnets = d?.subnets;
  if (typeof d?.podCidr !== 'string' || typeof d.maskSize !== 'number' || !subnets || typeof subnets !== 'object' || Object.values(subnets).some((v) => typeof v !== 'string')) {
    throw new KubiError('pod-subnets-invalid', `${SUBNETS_FILE} in the state directory does not hold podCidr, maskSize and subnets`, {
      hint: 'restore it from a backup; remove it only for a cluster without running pods',
    });
  }
  return { podCidr: d.podCidr, maskSize: d.maskSize, subnets: { ...subnets } };
}

/** Pure: the file's content for an allocation (stable key order: the inventory's). */
export function renderSavedSubnets(s: SavedSubnets): string {
  return `${JSON.stringify({ podCidr: s.podCidr, maskSize: s.maskSize, subnets: s.subnets }, null, 2)}\n`;
}

/**
 * Pure: this inventory's allocation given the saved one. The saved subnets are kept only when
 * they were made in the same pod CIDR and mask (changing those re-plans every node, which the
 * plan then shows).
 */
export function allocationFor(cluster: Pick<ClusterContext, 'inventory'>, saved: SavedSubnets | null): SavedSubnets {
  const net = cluster.inventory.network;
  const same = saved !== null && saved.podCidr === net.podCidr && saved.maskSize === net.nodeCidrMaskSize;
  const names = kubeNodes(cluster.inventory).map((h) => h.name);
  const subnets = allocatePodSubnets(names, net.podCidr, net.nodeCidrMaskSize, same ? saved.subnets : undefined);
  return { podCidr: net.podCidr, maskSize: net.nodeCidrMaskSize, subnets };
}

export interface SubnetsObserved {
  /** the file's text, null when missing */
  text: string | null;
  mode: number | null;
}

async function readSaved(stateDir: string): Promise<SubnetsObserved> {
  const f = await readStateFile(stateDir, SUBNETS_FILE);
  return { text: f?.content ?? null, mode: f?.mode ?? null };
}

/** The allocation of this run (saved subnets kept); read-only, in plan and apply mode. */
export async function podSubnets(cluster: ClusterContext): Promise<Record<string, string>> {
  const o = await readSaved(cluster.stateDir);
  return allocationFor(cluster, o.text === null ? null : parseSavedSubnets(o.text)).subnets;
}

/** Pure plan of cni.subnets: one atomic file write when the allocation changed (nothing in flannel mode). */
export function planSubnets(o: SubnetsObserved, cluster: Pick<ClusterContext, 'inventory'>): Change[] {
  if (cluster.inventory.network.cni !== 'bridge') return [];
  const want = renderSavedSubnets(allocationFor(cluster, o.text === null ? null : parseSavedSubnets(o.text)));
  if (o.text === want && o.mode === 0o600) return [];
  return [
    o.text === null
      ? { kind: 'file', path: SUBNETS_FILE, content: want, mode: 0o600, action: 'create', before: null }
      : o.text === want
        ? { kind: 'file', path: SUBNETS_FILE, content: want, mode: 0o600, action: 'chmod' }
        : { kind: 'file', path: SUBNETS_FILE, content: want, mode: 0o600, action: 'update', before: o.text },
  ];
}

export const cniSubnets: LocalStep<SubnetsObserved> = {
  id: 'cni.subnets',
  title: 'Allocate a pod subnet per node and keep the allocation in the state directory',
  local: true,
  check(ctx) {
    return readSaved(ctx.cluster.stateDir);
  },
  plan(o, ctx) {
    return planSubnets(o, ctx.cluster);
  },
};
