/**
 * What a smoke check sees: the inventory, the connected hosts (and which ones could not be
 * reached), options, and injected effects (clock, sleep, local file reads, facts gathering) so the
 * framework and the checks are testable with a scripted fake host and a fake clock.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Facts } from '../facts/types.js';
import type { Host, Inventory, Role } from '../inventory/schema.js';
import { redactor } from '../redact.js';
import { ETCD_PKI } from '../render/cluster.js';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../render/etcd.js';
import { KERNEL_MODULES, SYSCTLS } from '../render/host-prep.js';
import type { RemoteHost } from '../transport/types.js';
import { type LayerId, NotRun } from './check.js';

/** Where etcdctl and the admin client certificate live on etcd hosts (the etcd steps install them there). */
export interface EtcdClientPaths {
  etcdctl: string;
  caCert: string;
  adminCert: string;
  adminKey: string;
  /** directory whose *.crt files are checked for expiry */
  pkiDir: string;
  clientPort: number;
  peerPort: number;
}

/** The layout the etcd steps install (render/cluster.ts ETCD_PKI, render/etcd.ts ports). */
export const DEFAULT_ETCD_PATHS: EtcdClientPaths = {
  etcdctl: '/usr/local/bin/etcdctl',
  caCert: ETCD_PKI.ca,
  adminCert: ETCD_PKI.adminCert,
  adminKey: ETCD_PKI.adminKey,
  pkiDir: ETCD_PKI.dir,
  clientPort: ETCD_CLIENT_PORT,
  peerPort: ETCD_PEER_PORT,
};

export const DEFAULT_SMOKE_IMAGE = 'docker.io/kubi/busybox:latest';

export interface SmokeOptions {
  /** image of the throwaway containers and pods */
  smokeImage: string;
  /** local OCI archive of the smoke image, imported on nodes that lack it (artifacts dir images/busybox-oci.tar) */
  imageArchive?: string;
  /** how long checks on a converging cluster retry before they fail */
  timeoutMs: number;
  intervalMs: number;
  /** opt-in: stop a server's service and show the endpoint survives */
  chaos: boolean;
  /** run only these layers (others: "not run: not selected") */
  layers?: LayerId[];
  etcd: EtcdClientPaths;
  /** certificates expiring sooner than this are a warning */
  expiryWarnDays: number;
  /** clock skew between nodes at or above this fails */
  maxClockSkewMs: number;
  kernelModules: readonly string[];
  sysctls: readonly (readonly [string, string])[];
}

export function defaultSmokeOptions(over: Partial<SmokeOptions> = {}): SmokeOptions {
  return {
    smokeImage: DEFAULT_SMOKE_IMAGE,
    timeoutMs: 60_000,
    intervalMs: 2_000,
    chaos: false,
    etcd: DEFAULT_ETCD_PATHS,
    expiryWarnDays: 30,
    maxClockSkewMs: 1000,
    kernelModules: KERNEL_MODULES,
    sysctls: SYSCTLS,
    ...over,
  };
}

export interface SmokeContext {
  inventory: Inventory;
  /** connected hosts by inventory name */
  remotes: ReadonlyMap<string, RemoteHost>;
  /** hosts that could not be reached, with the reason */
  unreachable: ReadonlyMap<string, string>;
  options: SmokeOptions;
  /** pod subnet of each node (bridge CNI), by host name */
  podSubnets: Readonly<Record<string, string>>;
  gatherFacts(remote: RemoteHost): Promise<Facts>;
  readLocalFile(path: string): Promise<Buffer | null>;
  /** wall-clock milliseconds since the epoch, sub-millisecond precision */
  now(): number;
  sleep(ms: number): Promise<void>;
  redact(text: string): string;
  signal: AbortSignal;
  /** one shared promise per key for the whole run (probes several checks read) */
  memo<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** a short random id for names of things the checks create */
  randomId(): string;
}

export interface SmokeContextInput {
  inventory: Inventory;
  remotes: ReadonlyMap<string, RemoteHost>;
  unreachable?: ReadonlyMap<string, string>;
  options?: Partial<SmokeOptions>;
  podSubnets?: Readonly<Record<string, string>>;
  gatherFacts(remote: RemoteHost): Promise<Facts>;
  readLocalFile?(path: string): Promise<Buffer | null>;
  now?(): number;
  sleep?(ms: number): Promise<void>;
  redact?(text: string): string;
  signal?: AbortSignal;
  randomId?(): string;
}

export function createSmokeContext(input: SmokeContextInput): SmokeContext {
  const memos = new Map<string, Promise<unknown>>();
  return {
    inventory: input.inventory,
    remotes: input.remotes,
    unreachable: input.unreachable ?? new Map(),
    options: defaultSmokeOptions(input.options),
    podSubnets: input.podSubnets ?? {},
    gatherFacts: input.gatherFacts,
    readLocalFile: input.readLocalFile ?? readLocal,
    now: input.now ?? (() => performance.timeOrigin + performance.now()),
    sleep: input.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    redact: input.redact ?? ((t) => redactor.redact(t)),
    signal: input.signal ?? new AbortController().signal,
    memo<T>(key: string, fn: () => Promise<T>): Promise<T> {
      let p = memos.get(key) as Promise<T> | undefined;
      if (!p) {
        p = fn();
        memos.set(key, p);
      }
      return p;
    },
    randomId: input.randomId ?? (() => randomBytes(4).toString('hex')),
  };
}

async function readLocal(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The connected host, or NotRun when it could not be reached. */
export function remoteFor(ctx: SmokeContext, host: string): RemoteHost {
  const r = ctx.remotes.get(host);
  if (r) return r;
  const why = ctx.unreachable.get(host);
  throw new NotRun(`${host} is not reachable over ssh${why ? ` (${why})` : ''}`);
}

export function hostsWith(ctx: Pick<SmokeContext, 'inventory'>, ...roles: Role[]): Host[] {
  return ctx.inventory.hosts.filter((h) => h.roles.some((r) => roles.includes(r)));
}

/** Kubernetes nodes run containerd and CNI: servers and agents. */
export function nodeHosts(ctx: Pick<SmokeContext, 'inventory'>): Host[] {
  return hostsWith(ctx, 'server', 'agent');
}

export function isReachable(ctx: SmokeContext, host: string): boolean {
  return ctx.remotes.has(host);
}
