/**
 * The lab's inventory (`inventories/lab.yaml`, git-ignored): a valid inventory for the nodes the lab
 * made, built as data (pure) and written atomically. After `lab rebuild --new-address` only the
 * node's address is changed in place (the YAML document is edited, so comments and user edits stay).
 *
 * Roles: 1-2 nodes -> one [etcd, server] (+ an agent); 3-6 nodes -> 3 [etcd, server], the rest
 * agents; 7+ -> 5 [etcd, server]. node2 logs in as the unprivileged `kubi` user with sudo so that
 * path is exercised. The vm backend (TCG) gets larger etcd timeouts (500/5000 ms: pitfall 8).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument, stringify } from 'yaml';
import { KubiError } from '../errors.js';
import { DEFAULT_VERSIONS, type InventoryInput } from '../inventory/schema.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Backend } from './config.js';
import type { LabVersions } from './artifacts.js';

export interface LabInventoryInput {
  backend: Backend;
  nodes: readonly { name: string; address: string }[];
  vip: string;
  keyPath: string;
  artifactsDir: string;
  versions: LabVersions;
  /** the node that logs in as `kubi` with sudo (default node2 when present) */
  sudoNode?: string;
}

export function etcdCount(nodes: number): number {
  if (nodes >= 7) return 5;
  if (nodes >= 3) return 3;
  return 1;
}

export function buildLabInventory(input: LabInventoryInput): InventoryInput {
  const members = etcdCount(input.nodes.length);
  const sudoNode = input.sudoNode ?? 'node2';
  return {
    cluster: { name: 'lab', stateDir: '.kubi/lab' },
    versions: {
      k3s: input.versions.k3s ?? DEFAULT_VERSIONS.k3s,
      etcd: input.versions.etcd,
      containerd: input.versions.containerd,
      runc: input.versions.runc,
      cni: input.versions.cni,
    },
    endpoint: { mode: 'keepalived', vip: input.vip },
    ssh: { user: 'root', privateKey: input.keyPath },
    artifacts: { source: 'offline', dir: input.artifactsDir },
    ...(input.backend === 'vm' ? { etcd: { heartbeatIntervalMs: 500, electionTimeoutMs: 5000 } } : {}),
    hosts: input.nodes.map((n, i) => ({
      name: n.name,
      address: n.address,
      roles: i < members ? (['etcd', 'server'] as const).slice() : (['agent'] as const).slice(),
      ...(n.name === sudoNode ? { ssh: { user: 'kubi', sudo: true } } : {}),
    })),
  };
}

export function renderLabInventory(inv: InventoryInput, backend: Backend): string {
  const header = [
    '# Written by `kubi-provision lab up` (the lab is throw-away: this file is rewritten by the next `lab up`).',
    `# backend: ${backend}; ssh to a node: kubi-provision lab ssh <node>`,
    '',
  ].join('\n');
  return header + stringify(inv, { lineWidth: 0 });
}

export async function writeLabInventory(file: string, inv: InventoryInput, backend: Backend): Promise<void> {
  await writeFileAtomic(file, renderLabInventory(inv, backend), 0o644, { parentDirMode: 0o755 });
}

/** Change one host's address in an inventory file, keeping everything else as it is. */
export async function updateInventoryAddress(file: string, host: string, address: string): Promise<void> {
  const doc = parseDocument(await readFile(file, 'utf8'));
  const hosts = doc.get('hosts', true) as { items?: unknown[] } | undefined;
  const items = hosts?.items ?? [];
  const idx = items.findIndex((_h, i) => doc.getIn(['hosts', i, 'name']) === host);
  if (idx < 0) throw new KubiError('lab-inventory', `the inventory ${file} has no host ${host}`);
  doc.setIn(['hosts', idx, 'address'], address);
  await writeFileAtomic(file, doc.toString({ lineWidth: 0 }), 0o644);
}
