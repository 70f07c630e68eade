/**
 * The lab network: a network namespace holding a bridge with the first address of the lab subnet,
 * and a veth pair from the root namespace into that bridge, whose root-side address gives the host a
 * route for the lab subnet ONLY. Nodes have no NAT and no other route; forwarding is off on the
 * root-side veth, so nothing outside the lab subnet is ever reached from a node. VM taps live inside
 * the namespace. Everything here is idempotent; `networkDown` is safe on partial state.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { KubiError } from '../errors.js';
import { BRIDGE, hostVethName, ipToInt, type Subnet } from './config.js';
import type { LocalRunner } from './exec.js';

/** The namespace-side end of the veth pair. */
export const NS_UPLINK = 'uplink0';

export function netnsPath(ns: string): string {
  return `/run/netns/${ns}`;
}

export function netnsExists(ns: string): boolean {
  return existsSync(netnsPath(ns));
}

export interface RouteEntry {
  dst: string;
  dev?: string;
}

/** Routes of the root namespace that overlap the lab subnet (other than our own veth). Pure. */
export function overlappingRoutes(routes: readonly RouteEntry[], subnet: Subnet, ownDev: string): RouteEntry[] {
  const labStart = subnet.network;
  const labEnd = labStart + 2 ** (32 - subnet.prefix) - 1;
  return routes.filter((r) => {
    if (r.dst === 'default' || r.dev === ownDev) return false;
    const [ip, len] = r.dst.split('/');
    if (!ip || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
    const prefix = len === undefined ? 32 : Number(len);
    const start = ipToInt(ip);
    const end = start + 2 ** (32 - prefix) - 1;
    return start <= labEnd && labStart <= end;
  });
}

export async function networkUp(ns: string, subnet: Subnet, runner: LocalRunner): Promise<void> {
  const hostDev = hostVethName(ns);
  const routes = JSON.parse(await runner.output(['ip', '-j', '-4', 'route', 'show', 'table', 'main'])) as RouteEntry[];
  const clash = overlappingRoutes(routes, subnet, hostDev);
  if (clash.length > 0) {
    throw new KubiError('lab-subnet-in-use', `the lab subnet ${subnet.cidr} overlaps the host route ${clash[0]!.dst} (${clash[0]!.dev ?? '?'})`, {
      hint: 'pick another private subnet with --subnet, e.g. 10.78.0.0/24',
    });
  }
  if (!netnsExists(ns)) await runner.run(['ip', 'netns', 'add', ns]);
  const inNs = { netns: ns };
  await runner.run(['ip', 'link', 'set', 'lo', 'up'], inNs);
  if (!(await runner.succeeds(['ip', 'link', 'show', BRIDGE], inNs))) {
    await runner.run(['ip', 'link', 'add', BRIDGE, 'type', 'bridge'], inNs);
  }
  await runner.run(['ip', 'addr', 'replace', `${subnet.bridgeAddress}/${subnet.prefix}`, 'dev', BRIDGE], inNs);
  await runner.run(['ip', 'link', 'set', BRIDGE, 'up'], inNs);
  // the namespace forwards nothing (a fresh namespace has forwarding off; make it explicit)
  await runner.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0'], inNs);

  if (!(await runner.succeeds(['ip', 'link', 'show', hostDev]))) {
    await runner.run(['ip', 'link', 'add', hostDev, 'type', 'veth', 'peer', 'name', NS_UPLINK, 'netns', ns]);
  }
  await runner.run(['ip', 'link', 'set', NS_UPLINK, 'master', BRIDGE], inNs);
  await runner.run(['ip', 'link', 'set', NS_UPLINK, 'up'], inNs);
  await runner.run(['ip', 'addr', 'replace', `${subnet.hostAddress}/${subnet.prefix}`, 'dev', hostDev]);
  await runner.run(['ip', 'link', 'set', hostDev, 'up']);
  // packets from the lab are never forwarded by the host
  await writeFile(`/proc/sys/net/ipv4/conf/${hostDev}/forwarding`, '0\n').catch(() => undefined);
}

export function tapName(node: string): string {
  return `tap-${node}`.slice(0, 15);
}

export async function addTap(ns: string, tap: string, runner: LocalRunner): Promise<void> {
  const inNs = { netns: ns };
  if (!(await runner.succeeds(['ip', 'link', 'show', tap], inNs))) {
    await runner.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap'], inNs);
  }
  await runner.run(['ip', 'link', 'set', tap, 'master', BRIDGE], inNs);
  await runner.run(['ip', 'link', 'set', tap, 'up'], inNs);
}

export async function deleteTap(ns: string, tap: string, runner: LocalRunner): Promise<void> {
  if (!netnsExists(ns)) return;
  await runner.run(['ip', 'link', 'del', tap], { netns: ns, allowFailure: true });
}

/** Remove the namespace (and with it the bridge, taps and the veth pair). Idempotent. */
export async function networkDown(ns: string, runner: LocalRunner): Promise<void> {
  if (netnsExists(ns)) await runner.run(['ip', 'netns', 'del', ns], { allowFailure: true });
  const hostDev = hostVethName(ns);
  if (await runner.succeeds(['ip', 'link', 'show', hostDev])) await runner.run(['ip', 'link', 'del', hostDev], { allowFailure: true });
}
