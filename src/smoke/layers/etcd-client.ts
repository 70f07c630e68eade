/**
 * Running etcdctl on an etcd host with the admin client certificate (the checks never need an
 * etcd client on the workstation). ETCDCTL_API=3 is set and every ETCDCTL_* variable that shadows a
 * flag we pass is unset: etcdctl 3.4 refuses `--endpoints` when ETCDCTL_ENDPOINTS is also set.
 */
import type { Host } from '../../inventory/schema.js';
import { shellQuote } from '../../transport/quote.js';
import type { ExecResult } from '../../transport/types.js';
import { NotRun } from '../check.js';
import { hostsWith, isReachable, remoteFor, type SmokeContext } from '../context.js';
import type { ExpectedMember } from '../parse/etcdctl.js';

export function etcdHosts(ctx: SmokeContext): Host[] {
  return hostsWith(ctx, 'etcd');
}

export function expectedMembers(ctx: SmokeContext): ExpectedMember[] {
  const { clientPort, peerPort } = ctx.options.etcd;
  return etcdHosts(ctx).map((h) => ({
    name: h.name,
    clientURL: `https://${h.address}:${clientPort}`,
    peerURL: `https://${h.address}:${peerPort}`,
  }));
}

export function allEndpoints(ctx: SmokeContext): string[] {
  return expectedMembers(ctx).map((m) => m.clientURL);
}

/** The etcd host etcdctl runs on: the first reachable one, in inventory order. */
export function clientHost(ctx: SmokeContext, avoid?: string): Host {
  const reachable = etcdHosts(ctx).filter((h) => isReachable(ctx, h.name));
  const pick = reachable.find((h) => h.name !== avoid) ?? reachable[0];
  if (!pick) throw new NotRun('no etcd host is reachable over ssh');
  return pick;
}

const SHADOWED = ['ETCDCTL_ENDPOINTS', 'ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY', 'ETCDCTL_DIAL_TIMEOUT', 'ETCDCTL_COMMAND_TIMEOUT', 'ETCDCTL_WRITE_OUT'];

/** argv of an etcdctl call with the admin certificate against `endpoints`. */
export function etcdctlArgv(ctx: SmokeContext, endpoints: readonly string[], args: readonly string[]): string[] {
  const p = ctx.options.etcd;
  return [
    'env',
    ...SHADOWED.flatMap((v) => ['-u', v]),
    'ETCDCTL_API=3',
    p.etcdctl,
    '--cacert',
    p.caCert,
    '--cert',
    p.adminCert,
    '--key',
    p.adminKey,
    '--endpoints',
    endpoints.join(','),
    '--dial-timeout',
    '3s',
    '--command-timeout',
    '5s',
    ...args,
  ];
}

/** The same call as a user would paste it on the host (the env -u prefix only matters for our non-interactive run). */
export function etcdctlDisplay(ctx: SmokeContext, endpoints: readonly string[], args: readonly string[]): string {
  return shellQuote(etcdctlArgv(ctx, endpoints, args).slice(1 + SHADOWED.length * 2));
}

export interface EtcdctlRun {
  host: string;
  result: ExecResult;
}

/** Run etcdctl (as root: the admin key is 0600) on `on` or the first reachable etcd host; never throws on a non-zero exit. */
export async function etcdctl(
  ctx: SmokeContext,
  args: readonly string[],
  opts: { endpoints?: readonly string[]; on?: string; label?: string; mutating?: boolean; stdin?: string } = {},
): Promise<EtcdctlRun> {
  const host = opts.on ?? clientHost(ctx).name;
  const remote = remoteFor(ctx, host);
  const endpoints = opts.endpoints ?? allEndpoints(ctx);
  const result = await remote.exec(etcdctlArgv(ctx, endpoints, args), {
    sudo: true,
    allowFailure: true,
    label: opts.label ?? `verify: etcdctl ${args[0] ?? ''}`,
    mutating: opts.mutating ?? false,
    timeoutMs: 30_000,
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
  });
  return { host, result: { ...result, command: etcdctlDisplay(ctx, endpoints, args) } };
}
