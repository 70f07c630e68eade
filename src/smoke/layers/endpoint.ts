/**
 * API endpoint layer (keepalived or kube-vip VIP): keepalived runs on every server (keepalived
 * mode), which server holds the VIP (exactly one), the VIP answers a TCP connect on the API port
 * from the other hosts ("connection refused" also proves the VIP is alive: something answered for
 * that address), and, when k3s runs, the API answers through the VIP (`k3s kubectl --server
 * https://<vip>:<port> get --raw /readyz`, which also proves the VIP is in the serving certificate).
 * keepalived tracks the local API server (check-apiserver.sh), so while k3s runs nowhere no server
 * may hold the VIP: then the VIP rows are "not run" with that reason instead of failed (a VIP that
 * is held anyway is still reported). Endpoint mode none: one "not run" row.
 */
import { quoteWord } from '../../transport/quote.js';
import { type Check, failed, type Layer, notRun, passed, retryCheck } from '../check.js';
import { hostsWith, isReachable, remoteFor, type SmokeContext } from '../context.js';
import { type Evidence, evidenceFrom, markerExit } from '../evidence.js';
import { k3sState } from './k3s-state.js';

export const endpointLayer: Layer = {
  id: 'endpoint',
  title: 'API endpoint',
  requires: ['hosts'],
  async plan(ctx) {
    const ep = ctx.inventory.endpoint;
    if (ep.mode === 'none') return { notRun: 'endpoint mode none' };
    if (!ep.vip) return { notRun: `endpoint mode ${ep.mode} but no vip in the inventory` };
    return [...(ep.mode === 'keepalived' ? [keepalivedCheck] : []), vipHolderCheck, vipReachableCheck, apiThroughVipCheck];
  },
};

export interface VipHolders {
  holders: { host: string; iface: string }[];
  evidence: Evidence[];
}

/** `ip -o -4 addr show` lines -> the interface that carries `vip`, or null. */
export function interfaceWithAddress(ipAddrOutput: string, vip: string): string | null {
  for (const line of ipAddrOutput.split('\n')) {
    const m = line.match(/^\d+:\s+(\S+)\s+inet\s+(\d{1,3}(?:\.\d{1,3}){3})\//);
    if (m && m[2] === vip) return m[1]!.replace(/@.*$/, '');
  }
  return null;
}

/** Which reachable servers have the VIP on an interface right now. */
export async function findVipHolders(ctx: SmokeContext): Promise<VipHolders> {
  const vip = ctx.inventory.endpoint.vip!;
  const holders: VipHolders['holders'] = [];
  const evidence: Evidence[] = [];
  await Promise.all(
    hostsWith(ctx, 'server')
      .filter((h) => isReachable(ctx, h.name))
      .map(async (h) => {
        const r = await remoteFor(ctx, h.name).exec(['ip', '-o', '-4', 'addr', 'show'], { sudo: false, allowFailure: true, label: 'verify: who holds the VIP', mutating: false });
        evidence.push(evidenceFrom(h.name, r, ctx.redact));
        const iface = interfaceWithAddress(r.stdout, vip);
        if (iface) holders.push({ host: h.name, iface });
      }),
  );
  holders.sort((a, b) => a.host.localeCompare(b.host));
  evidence.sort((a, b) => a.host.localeCompare(b.host));
  return { holders, evidence };
}

async function serviceStates(ctx: SmokeContext): Promise<Evidence[]> {
  const unit = ctx.inventory.endpoint.mode === 'keepalived' ? 'keepalived' : 'k3s';
  const out: Evidence[] = [];
  for (const h of hostsWith(ctx, 'server').filter((h) => isReachable(ctx, h.name))) {
    const r = await remoteFor(ctx, h.name).exec(['systemctl', 'is-active', unit], { sudo: false, allowFailure: true, label: `verify: ${unit} state`, mutating: false });
    out.push(evidenceFrom(h.name, r, ctx.redact));
  }
  return out;
}

const keepalivedCheck: Check = {
  id: 'endpoint.keepalived',
  layer: 'endpoint',
  title: 'keepalived runs on every server',
  async run(ctx) {
    const servers = hostsWith(ctx, 'server').filter((h) => isReachable(ctx, h.name));
    if (servers.length === 0) return notRun('no reachable server');
    return retryCheck(ctx, { what: 'keepalived to run on every server' }, async () => {
      const states = await serviceStates(ctx);
      const down = states.filter((e) => e.output.trim() !== 'active');
      if (down.length > 0) return failed(`keepalived is not active on ${down.map((e) => `${e.host} (${e.output.trim() || 'unknown'})`).join(', ')}`, down);
      return passed(`active on ${states.map((e) => e.host).join(', ')}`);
    });
  },
};

/** Why the VIP may rightly be unheld: keepalived tracks the API server, which does not run anywhere. */
async function unheldBecauseNoApi(ctx: SmokeContext): Promise<string | null> {
  if (ctx.inventory.endpoint.mode !== 'keepalived') return null;
  const k3s = await k3sState(ctx);
  if (k3s.active.length > 0) return null;
  return `no server holds ${ctx.inventory.endpoint.vip}: keepalived gives the VIP only to a server whose API server answers, and k3s is not running`;
}

const vipHolderCheck: Check = {
  id: 'endpoint.vip-holder',
  layer: 'endpoint',
  title: 'one server holds the VIP',
  async run(ctx) {
    const vip = ctx.inventory.endpoint.vip!;
    if (ctx.inventory.endpoint.mode === 'kube-vip' && (await k3sState(ctx)).active.length === 0) return notRun('kube-vip runs inside k3s, and k3s is not running');
    const whyUnheld = await unheldBecauseNoApi(ctx);
    if (whyUnheld && (await findVipHolders(ctx)).holders.length === 0) return notRun(whyUnheld);
    return retryCheck(ctx, { what: `one server to hold the VIP ${vip}` }, async () => {
      const { holders, evidence } = await findVipHolders(ctx);
      if (holders.length === 1) return passed(`${vip} is held by ${holders[0]!.host} (${holders[0]!.iface})`);
      if (holders.length === 0) return failed(`no server holds ${vip}`, [...evidence, ...(await serviceStates(ctx))]);
      return failed(`${vip} is held by ${holders.length} servers at once: ${holders.map((h) => h.host).join(', ')}`, evidence);
    });
  },
};

export type TcpProbe = 'connected' | 'refused' | 'timeout' | 'unreachable' | 'error';

/** Script: a TCP connect with bash's /dev/tcp, printing the error text and `@@tcp-exit=N`. */
export function tcpProbeScript(address: string, port: number): string {
  return `timeout 5 bash -c ${quoteWord(`exec 3<>/dev/tcp/${address}/${port}`)} 2>&1; echo "@@tcp-exit=$?"`;
}

export function classifyTcpProbe(output: string): TcpProbe {
  const exit = output.match(/@@tcp-exit=(\d+)/)?.[1];
  if (exit === '0') return 'connected';
  if (exit === '124') return 'timeout';
  if (/connection refused/i.test(output)) return 'refused';
  if (/no route to host|network is unreachable/i.test(output)) return 'unreachable';
  return 'error';
}

const vipReachableCheck: Check = {
  id: 'endpoint.vip-reachable',
  layer: 'endpoint',
  title: 'the VIP answers on the API port',
  async run(ctx) {
    const { vip, port } = ctx.inventory.endpoint;
    const k3s = await k3sState(ctx);
    const holders = (await findVipHolders(ctx)).holders.map((h) => h.host);
    if (holders.length === 0) {
      const whyUnheld = await unheldBecauseNoApi(ctx);
      if (whyUnheld) return notRun(whyUnheld);
      if (ctx.inventory.endpoint.mode === 'kube-vip' && k3s.active.length === 0) return notRun('kube-vip runs inside k3s, and k3s is not running');
    }
    let from = ctx.inventory.hosts.filter((h) => isReachable(ctx, h.name) && !holders.includes(h.name));
    if (from.length === 0) from = ctx.inventory.hosts.filter((h) => isReachable(ctx, h.name));
    if (from.length === 0) return notRun('no reachable host to probe from');
    return retryCheck(ctx, { what: `the VIP ${vip}:${port} to answer` }, async () => {
      const results: { host: string; probe: TcpProbe; ev: Evidence }[] = [];
      await Promise.all(
        from.map(async (h) => {
          const r = await remoteFor(ctx, h.name).script(tcpProbeScript(vip!, port), { sudo: false, allowFailure: true, label: 'verify: tcp connect to the VIP', mutating: false });
          results.push({
            host: h.name,
            probe: classifyTcpProbe(r.stdout),
            ev: evidenceFrom(h.name, r, ctx.redact, { label: `bash -c 'exec 3<>/dev/tcp/${vip}/${port}'`, exitCode: markerExit(r.stdout, 'tcp-exit') }),
          });
        }),
      );
      results.sort((a, b) => a.host.localeCompare(b.host));
      const ok = (p: TcpProbe): boolean => p === 'connected' || (k3s.active.length === 0 && p === 'refused');
      const bad = results.filter((r) => !ok(r.probe));
      const holder = holders.length ? `held by ${holders.join(', ')}` : 'no server holds it';
      if (bad.length > 0) {
        const why = bad.map((b) => `${b.host}: ${b.probe}`).join(', ');
        return failed(`${vip}:${port} does not answer (${why}; ${holder})`, bad.map((b) => b.ev));
      }
      if (results.every((r) => r.probe === 'connected')) return passed(`${vip}:${port} accepts connections from ${results.map((r) => r.host).join(', ')} (${holder})`);
      return passed(`${vip} answers from ${results.map((r) => r.host).join(', ')}: connection refused on :${port}, nothing listens there because k3s is not running (${holder})`);
    });
  },
};

const apiThroughVipCheck: Check = {
  id: 'endpoint.api',
  layer: 'endpoint',
  title: 'the Kubernetes API answers through the VIP',
  async run(ctx) {
    const k3s = await k3sState(ctx);
    if (k3s.active.length === 0) return notRun('k3s is not running');
    const { vip, port } = ctx.inventory.endpoint;
    const on = k3s.active[0]!;
    return retryCheck(ctx, { what: `the API at https://${vip}:${port}`, host: on }, async () => {
      const r = await remoteFor(ctx, on).exec(['k3s', 'kubectl', '--server', `https://${vip}:${port}`, 'get', '--raw', '/readyz'], {
        sudo: true,
        allowFailure: true,
        label: 'verify: API through the VIP',
        mutating: false,
      });
      if (r.exitCode === 0 && r.stdout.trim() === 'ok') return passed(`https://${vip}:${port}/readyz says ok (from ${on})`);
      return failed(`https://${vip}:${port}/readyz did not answer ok from ${on}`, [evidenceFrom(on, r, ctx.redact)]);
    });
  },
};
