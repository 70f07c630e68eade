/**
 * The lab's settings and its address plan (pure).
 *
 * One lab = one network namespace (default `kubilab`) holding a bridge `kbr0` with the first address
 * of the lab subnet (default 10.77.0.0/24 -> 10.77.0.1); nodes get .11, .12, ...; the root namespace
 * reaches the subnet through a veth `<ns>0` holding the last usable address (10.77.0.254), which gives
 * a route for the lab subnet only. The API VIP is .100. Directories: the image/artifact cache under
 * ${XDG_CACHE_HOME:-~/.cache}/kubi-provision/lab, the lab's state under /var/lib/kubi-provision/lab/<ns>.
 */
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';

export const BACKENDS = ['container', 'vm'] as const;
export type Backend = (typeof BACKENDS)[number];

export const DEFAULT_NAMESPACE = 'kubilab';
export const DEFAULT_SUBNET = '10.77.0.0/24';
export const BRIDGE = 'kbr0';
export const REPO_PORT = 8080;
/** offset of the first node inside the subnet (.11) */
export const FIRST_NODE_OFFSET = 11;
/** offset of the API VIP (.100) */
export const VIP_OFFSET = 100;

export interface LabOptions {
  /** network namespace name, also the lab's name (state dir, veth name) */
  namespace?: string;
  subnet?: string;
  backend?: Backend;
  nodes?: number;
  cacheDir?: string;
  stateDir?: string;
  inventoryPath?: string;
  /** a k3s binary to put into the artifacts directory */
  k3sBinary?: string;
  /** VM sizing */
  vmMemoryMiB?: number;
  vmCpus?: number;
  /** install missing host packages (default true when root) */
  install?: boolean;
}

export interface LabConfig {
  namespace: string;
  subnet: Subnet;
  backend: Backend;
  nodes: number;
  cacheDir: string;
  stateDir: string;
  inventoryPath: string;
  k3sBinary: string | null;
  vmMemoryMiB: number;
  vmCpus: number;
  install: boolean;
}

export interface Subnet {
  /** e.g. 10.77.0.0/24 */
  cidr: string;
  network: number;
  prefix: number;
  /** the bridge inside the namespace (.1) */
  bridgeAddress: string;
  /** the root-namespace end of the veth (last usable address) */
  hostAddress: string;
  vip: string;
  netmask: string;
  /** highest offset a node may use (below the host address) */
  maxOffset: number;
}

export function ipToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw new UsageError(`not an IPv4 address: ${ip}`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new UsageError(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parse and check a lab subnet: a private IPv4 network with a prefix between /16 and /24. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new UsageError(`lab subnet must look like 10.77.0.0/24, got "${cidr}"`);
  const prefix = Number(m[2]);
  if (prefix < 16 || prefix > 24) {
    throw new UsageError(`lab subnet prefix must be between /16 and /24, got /${prefix}`, 'use e.g. --subnet 10.77.0.0/24');
  }
  const base = ipToInt(m[1]!);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (base & mask) >>> 0;
  if (network !== base) throw new UsageError(`lab subnet ${cidr} has host bits set; did you mean ${intToIp(network)}/${prefix}?`);
  if (!isPrivate(network)) {
    throw new UsageError(`lab subnet ${cidr} is not a private range`, 'pick one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16');
  }
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return {
    cidr: `${intToIp(network)}/${prefix}`,
    network,
    prefix,
    bridgeAddress: intToIp(network + 1),
    hostAddress: intToIp(broadcast - 1),
    vip: intToIp(network + VIP_OFFSET),
    netmask: intToIp(mask),
    maxOffset: broadcast - 2 - network,
  };
}

function isPrivate(n: number): boolean {
  return n >>> 24 === 10 || (n >>> 20) === ((172 << 4) | 1) || n >>> 16 === ((192 << 8) | 168);
}

/** Address of the node at `offset` inside the subnet (offset 11 -> .11). */
export function addressAt(subnet: Subnet, offset: number): string {
  if (offset < 2 || offset > subnet.maxOffset || offset === VIP_OFFSET) {
    throw new UsageError(`no free node address left in ${subnet.cidr} (offset ${offset})`);
  }
  return intToIp(subnet.network + offset);
}

export function offsetOf(subnet: Subnet, address: string): number {
  return ipToInt(address) - subnet.network;
}

/** The next free node offset: above every offset used so far, skipping the VIP. */
export function nextFreeOffset(subnet: Subnet, used: readonly number[]): number {
  let next = Math.max(FIRST_NODE_OFFSET - 1, ...used) + 1;
  if (next === VIP_OFFSET) next++;
  if (next > subnet.maxOffset) throw new UsageError(`no free node address left in ${subnet.cidr}`);
  return next;
}

/** Initial offsets of N nodes: 11, 12, ... (skipping the VIP). */
export function initialOffsets(n: number): number[] {
  const out: number[] = [];
  for (let o = FIRST_NODE_OFFSET; out.length < n; o++) if (o !== VIP_OFFSET) out.push(o);
  return out;
}

export function nodeName(index: number): string {
  return `node${index}`;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.trim() ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'kubi-provision', 'lab');
}

export function defaultStateDir(namespace: string): string {
  return path.join('/var/lib/kubi-provision/lab', namespace);
}

/** Validate options and apply defaults. */
export function resolveConfig(opts: LabOptions = {}, env: NodeJS.ProcessEnv = process.env): LabConfig {
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  if (!/^[a-z][a-z0-9-]{0,11}$/.test(namespace)) {
    throw new UsageError(`lab name "${namespace}" is not valid`, 'use 1-12 lower-case letters, digits or dashes, starting with a letter');
  }
  const backend = opts.backend ?? 'container';
  if (!BACKENDS.includes(backend)) throw new UsageError(`unknown lab backend "${String(backend)}"`, 'use container or vm');
  const nodes = opts.nodes ?? 3;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 30) {
    throw new UsageError(`--nodes must be a whole number from 1 to 30, got ${String(opts.nodes)}`);
  }
  const subnet = parseSubnet(opts.subnet ?? DEFAULT_SUBNET);
  const offsets = initialOffsets(nodes);
  if (offsets[offsets.length - 1]! > subnet.maxOffset) throw new UsageError(`${nodes} nodes do not fit into ${subnet.cidr}`);
  const k3s = opts.k3sBinary ?? (env.KUBI_K3S_BINARY && env.KUBI_K3S_BINARY.trim() ? env.KUBI_K3S_BINARY : null);
  return {
    namespace,
    subnet,
    backend,
    nodes,
    cacheDir: path.resolve(opts.cacheDir ?? defaultCacheDir(env)),
    stateDir: path.resolve(opts.stateDir ?? defaultStateDir(namespace)),
    inventoryPath: path.resolve(opts.inventoryPath ?? 'inventories/lab.yaml'),
    k3sBinary: k3s ? path.resolve(k3s) : null,
    vmMemoryMiB: opts.vmMemoryMiB ?? 1024,
    vmCpus: opts.vmCpus ?? (nodes > 1 ? 1 : 2),
    install: opts.install ?? true,
  };
}

/** The root-namespace end of the veth into the lab (interface names are at most 15 characters). */
export function hostVethName(namespace: string): string {
  return `${namespace}0`;
}
