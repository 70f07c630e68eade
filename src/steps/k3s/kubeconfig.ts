/**
 * Admin kubeconfig handling for `kubi-provision kubeconfig` (pure, no I/O):
 *  - `clusterKubeconfig`: k3s's /etc/rancher/k3s/k3s.yaml (cluster, user and context all named
 *    "default", server https://127.0.0.1:<port>) turned into one pointing at the cluster's
 *    endpoint (the VIP, or a server's address with endpoint mode none), with cluster, user and
 *    context named after the cluster;
 *  - `mergeKubeconfig`: that config merged into an existing one (~/.kube/config): entries of the
 *    same name are replaced, every other cluster, user and context is kept as it was, and the
 *    current context becomes the cluster's.
 * The client key inside is secret: callers register it with the redactor (`secretsOf`).
 */
import { parse as parseYaml, stringify } from 'yaml';
import { KubiError } from '../../errors.js';
import type { Inventory } from '../../inventory/schema.js';
import { servers } from '../../render/cluster.js';

interface Named<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

export interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<Record<string, unknown>>[];
  'current-context'?: string;
  preferences?: Record<string, unknown>;
  [key: string]: unknown;
}

function bad(what: string): KubiError {
  return new KubiError('kubeconfig-invalid', `${what} is not a kubeconfig`, { hint: 'check the file; kubi-provision only merges kubeconfig YAML (apiVersion v1, kind Config)' });
}

export function parseKubeconfig(text: string, what: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw bad(what);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad(what);
  const k = doc as Kubeconfig;
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    const list = k[key];
    if (list !== undefined && list !== null && (!Array.isArray(list) || list.some((e) => typeof e !== 'object' || e === null || typeof (e as { name?: unknown }).name !== 'string'))) {
      throw bad(what);
    }
  }
  return k;
}

/** The API URL clients use: the VIP, or (endpoint mode none) the given server's address. */
export function endpointUrl(inv: Inventory, serverAddress: string): string {
  const host = inv.endpoint.mode === 'none' ? serverAddress : inv.endpoint.vip;
  if (!host) throw new KubiError('missing-vip', `endpoint mode ${inv.endpoint.mode} needs endpoint.vip`, { hint: 'set endpoint.vip in the inventory' });
  return `https://${host}:${inv.endpoint.port}`;
}

/** Servers in the order to ask for k3s.yaml (inventory order: any healthy one will do). */
export function kubeconfigSources(inv: Inventory): string[] {
  return servers(inv).map((s) => s.name);
}

/** k3s.yaml -> the cluster's kubeconfig (one cluster, user and context named `name`). */
export function clusterKubeconfig(k3sYaml: string, opts: { name: string; server: string }): string {
  const k = parseKubeconfig(k3sYaml, 'k3s.yaml');
  const cluster = k.clusters?.[0]?.cluster;
  const user = k.users?.[0]?.user;
  if (!cluster || !user) throw new KubiError('kubeconfig-invalid', 'the k3s.yaml read from the server has no cluster or user', { hint: 'k3s writes it on start; check /etc/rancher/k3s/k3s.yaml on the server' });
  const out: Kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: opts.name, cluster: { ...cluster, server: opts.server } }],
    users: [{ name: opts.name, user: { ...user } }],
    contexts: [{ name: opts.name, context: { cluster: opts.name, user: opts.name } }],
    'current-context': opts.name,
    preferences: {},
  };
  return stringify(out, { lineWidth: 0 });
}

/** Secret values in a kubeconfig (client keys, tokens, passwords) for the redactor. */
export function secretsOf(text: string): string[] {
  const k = parseKubeconfig(text, 'kubeconfig');
  const out: string[] = [];
  for (const u of k.users ?? []) {
    const user = (u.user ?? {}) as Record<string, unknown>;
    for (const key of ['client-key-data', 'token', 'password']) if (typeof user[key] === 'string') out.push(user[key] as string);
  }
  return out;
}

function mergeList<T extends { name: string }>(existing: T[] | undefined | null, incoming: T[] | undefined): T[] {
  const add = incoming ?? [];
  const names = new Set(add.map((e) => e.name));
  // replaced entries stay where they were; new ones go last
  const out: T[] = [];
  for (const e of existing ?? []) {
    if (names.has(e.name)) out.push(add.find((a) => a.name === e.name)!);
    else out.push(e);
  }
  for (const a of add) if (!(existing ?? []).some((e) => e.name === a.name)) out.push(a);
  return out;
}

/**
 * Merge `incoming` (one cluster's kubeconfig) into `existing` (null: no file yet). Entries of the
 * same names are replaced in place; all others, and any other top-level keys, are kept.
 */
export function mergeKubeconfig(existing: string | null, incoming: string): string {
  const base = existing === null ? {} : parseKubeconfig(existing, 'the existing kubeconfig');
  const add = parseKubeconfig(incoming, 'the new kubeconfig');
  const merged: Kubeconfig = {
    ...base,
    apiVersion: base.apiVersion ?? 'v1',
    kind: base.kind ?? 'Config',
    clusters: mergeList(base.clusters, add.clusters),
    users: mergeList(base.users, add.users),
    contexts: mergeList(base.contexts, add.contexts),
    'current-context': add['current-context'] ?? base['current-context'] ?? '',
  };
  if (base.preferences === undefined) merged.preferences = {};
  return stringify(merged, { lineWidth: 0 });
}
