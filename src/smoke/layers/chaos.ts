/**
 * Chaos layer (opt-in with --chaos; it changes the cluster for a moment): stop one service on one
 * server, show the endpoint survives, start it again and wait until it is healthy. What is stopped:
 *  - k3s running on two or more servers: k3s on the server holding the VIP (or the first server);
 *    the API must keep answering through the VIP (or through another server with mode none);
 *  - else keepalived with a VIP on two or more servers: keepalived on the VIP holder; the VIP must
 *    move to another server and keep answering;
 *  - else three or more etcd members: etcd on one member; a write/read/delete round trip must
 *    still work through the others.
 * The stopped service is always started again (also by the layer cleanup when a row failed midway).
 */
import { type Check, type CheckOutcome, failed, type Layer, notRun, passed, retryCheck } from '../check.js';
import { hostsWith, isReachable, remoteFor, type SmokeContext } from '../context.js';
import { type Evidence, evidenceFrom } from '../evidence.js';
import { judgeHealth, parseEndpointHealth } from '../parse/etcdctl.js';
import { etcdctl, expectedMembers } from './etcd-client.js';
import { classifyTcpProbe, findVipHolders, tcpProbeScript } from './endpoint.js';
import { readK3sState } from './k3s-state.js';

interface ChaosPlan {
  victim: string;
  unit: string;
  /** checked while the unit is stopped */
  survivesTitle: string;
  survives(ctx: SmokeContext): Promise<CheckOutcome>;
  /** checked after the unit was started again */
  recovered(ctx: SmokeContext): Promise<CheckOutcome>;
  stopped: boolean;
}

const plans = new WeakMap<SmokeContext, ChaosPlan>();

export const chaosLayer: Layer = {
  id: 'chaos',
  title: 'chaos',
  requires: ['hosts'],
  async plan(ctx) {
    if (!ctx.options.chaos) return { notRun: 'not requested (--chaos)' };
    const plan = await choosePlan(ctx);
    if ('notRun' in plan) return plan;
    plans.set(ctx, plan);
    return [stopCheck(plan), { ...survivesCheck(plan), stage: 1 }, { ...startCheck(plan), stage: 2 }];
  },
  async cleanup(ctx) {
    const plan = plans.get(ctx);
    if (plan?.stopped) await startUnit(ctx, plan);
  },
};

async function choosePlan(ctx: SmokeContext): Promise<ChaosPlan | { notRun: string }> {
  const ep = ctx.inventory.endpoint;
  const servers = hostsWith(ctx, 'server').filter((h) => isReachable(ctx, h.name));
  const vip = ep.mode !== 'none' && ep.vip ? ep.vip : null;
  const k3s = await readK3sState(ctx);
  const holder = vip ? (await findVipHolders(ctx)).holders[0]?.host : undefined;

  if (k3s.active.length >= 2) {
    const victim = holder && k3s.active.includes(holder) ? holder : k3s.active[0]!;
    const other = k3s.active.find((s) => s !== victim)!;
    return {
      victim,
      unit: 'k3s',
      stopped: false,
      survivesTitle: vip ? `the API answers through the VIP with ${victim} down` : `the API answers on ${other} with ${victim} down`,
      survives: (c) => apiAnswers(c, other, vip ? `https://${vip}:${ep.port}` : null),
      recovered: (c) => unitActive(c, victim, 'k3s'),
    };
  }
  if (vip && ep.mode === 'keepalived' && servers.length >= 2 && holder) {
    return {
      victim: holder,
      unit: 'keepalived',
      stopped: false,
      survivesTitle: `the VIP moves away from ${holder} and answers`,
      survives: (c) => vipMovedAndAnswers(c, holder, vip, ep.port),
      recovered: (c) => unitActive(c, holder, 'keepalived'),
    };
  }
  const members = hostsWith(ctx, 'etcd').filter((h) => isReachable(ctx, h.name));
  if (members.length >= 3) {
    const victim = members[members.length - 1]!.name;
    return {
      victim,
      unit: 'etcd',
      stopped: false,
      survivesTitle: `etcd keeps serving with ${victim} down`,
      survives: (c) => etcdServesWithout(c, victim),
      recovered: (c) => etcdAllHealthy(c, victim),
    };
  }
  return { notRun: 'nothing to disrupt: needs k3s or keepalived on two servers, or three etcd members' };
}

function stopCheck(plan: ChaosPlan): Check {
  return {
    id: 'chaos.stop',
    layer: 'chaos',
    title: `stop ${plan.unit}`,
    host: plan.victim,
    async run(ctx) {
      const r = await remoteFor(ctx, plan.victim).exec(['systemctl', 'stop', plan.unit], { sudo: true, allowFailure: true, mutating: true, label: `verify: chaos: stop ${plan.unit}` });
      plan.stopped = true;
      if (r.exitCode !== 0) return failed(`could not stop ${plan.unit} on ${plan.victim}`, [evidenceFrom(plan.victim, r, ctx.redact)]);
      return passed(`stopped ${plan.unit} on ${plan.victim}`);
    },
  };
}

function survivesCheck(plan: ChaosPlan): Check {
  return {
    id: 'chaos.survives',
    layer: 'chaos',
    title: plan.survivesTitle,
    async run(ctx) {
      if (!plan.stopped) return notRun(`${plan.unit} was not stopped`);
      return plan.survives(ctx);
    },
  };
}

async function startUnit(ctx: SmokeContext, plan: ChaosPlan): Promise<Evidence | null> {
  const r = await remoteFor(ctx, plan.victim).exec(['systemctl', 'start', plan.unit], { sudo: true, allowFailure: true, mutating: true, label: `verify: chaos: start ${plan.unit}` });
  if (r.exitCode === 0) plan.stopped = false;
  return r.exitCode === 0 ? null : evidenceFrom(plan.victim, r, ctx.redact);
}

function startCheck(plan: ChaosPlan): Check {
  return {
    id: 'chaos.recover',
    layer: 'chaos',
    title: `start ${plan.unit} again and wait until healthy`,
    host: plan.victim,
    async run(ctx) {
      const err = await startUnit(ctx, plan);
      if (err) return failed(`could not start ${plan.unit} on ${plan.victim} again`, [err]);
      return plan.recovered(ctx);
    },
  };
}

async function apiAnswers(ctx: SmokeContext, on: string, server: string | null): Promise<CheckOutcome> {
  const args = ['k3s', 'kubectl', ...(server ? ['--server', server] : []), 'get', '--raw', '/readyz'];
  return retryCheck(ctx, { what: 'the API to answer', host: on }, async () => {
    const r = await remoteFor(ctx, on).exec(args, { sudo: true, allowFailure: true, mutating: false, label: 'verify: chaos: API readyz' });
    if (r.exitCode === 0 && r.stdout.trim() === 'ok') {
      const holder = ctx.inventory.endpoint.vip ? (await findVipHolders(ctx)).holders.map((h) => h.host).join(', ') : '';
      return passed(`${server ?? on}/readyz is ok${holder ? `; the VIP is now on ${holder}` : ''}`);
    }
    return failed(`${server ?? on} does not answer`, [evidenceFrom(on, r, ctx.redact)]);
  });
}

async function vipMovedAndAnswers(ctx: SmokeContext, from: string, vip: string, port: number): Promise<CheckOutcome> {
  return retryCheck(ctx, { what: `the VIP to move away from ${from}` }, async () => {
    const { holders, evidence } = await findVipHolders(ctx);
    const others = holders.filter((h) => h.host !== from);
    if (holders.length !== 1 || others.length !== 1) {
      return failed(`the VIP is held by ${holders.map((h) => h.host).join(', ') || 'no server'}`, evidence);
    }
    const holder = others[0]!.host;
    const prober = ctx.inventory.hosts.find((h) => isReachable(ctx, h.name) && h.name !== holder)?.name ?? holder;
    const r = await remoteFor(ctx, prober).script(tcpProbeScript(vip, port), { sudo: false, allowFailure: true, mutating: false, label: 'verify: chaos: VIP answers' });
    const p = classifyTcpProbe(r.stdout);
    if (p !== 'connected' && p !== 'refused') return failed(`the VIP moved to ${holder} but does not answer from ${prober} (${p})`, [evidenceFrom(prober, r, ctx.redact)]);
    return passed(`the VIP moved from ${from} to ${holder} and answers from ${prober} (${p === 'connected' ? 'connected' : 'connection refused: nothing listens, k3s is not running'})`);
  });
}

async function unitActive(ctx: SmokeContext, host: string, unit: string): Promise<CheckOutcome> {
  return retryCheck(ctx, { what: `${unit} to be active`, host }, async () => {
    const r = await remoteFor(ctx, host).exec(['systemctl', 'is-active', unit], { sudo: false, allowFailure: true, mutating: false, label: `verify: chaos: ${unit} state` });
    if (r.stdout.trim() === 'active') return passed(`${unit} is active again on ${host}`);
    return failed(`${unit} on ${host} is ${r.stdout.trim() || 'unknown'}`, [evidenceFrom(host, r, ctx.redact)]);
  });
}

async function etcdServesWithout(ctx: SmokeContext, victim: string): Promise<CheckOutcome> {
  const others = expectedMembers(ctx).filter((m) => m.name !== victim);
  const on = others.find((m) => isReachable(ctx, m.name))?.name;
  if (!on) return failed('no other etcd member is reachable');
  const endpoints = others.map((m) => m.clientURL);
  const key = `/kubi-verify/chaos-${ctx.randomId()}`;
  const value = `kubi-verify-${ctx.randomId()}`;
  return retryCheck(ctx, { what: `etcd to serve without ${victim}` }, async () => {
    const put = await etcdctl(ctx, ['put', key, value], { endpoints, on, mutating: true, label: 'verify: chaos: etcd put' });
    const get = await etcdctl(ctx, ['get', key, '--print-value-only'], { endpoints, on, label: 'verify: chaos: etcd get' });
    const del = await etcdctl(ctx, ['del', key], { endpoints, on, mutating: true, label: 'verify: chaos: etcd del' });
    if (put.result.exitCode === 0 && get.result.stdout.trim() === value && del.result.stdout.trim() === '1') {
      return passed(`put, get and del work through ${others.map((m) => m.name).join(', ')} with ${victim} stopped`);
    }
    return failed(`etcd does not serve without ${victim}`, [put, get, del].map((x) => evidenceFrom(x.host, x.result, ctx.redact)));
  });
}

async function etcdAllHealthy(ctx: SmokeContext, victim: string): Promise<CheckOutcome> {
  const expected = expectedMembers(ctx);
  return retryCheck(ctx, { what: `etcd on ${victim} to be healthy again` }, async () => {
    const { host, result } = await etcdctl(ctx, ['endpoint', 'health', '-w', 'json']);
    const v = judgeHealth(expected, parseEndpointHealth(result.stdout));
    if (v.unhealthy.length === 0) return passed(`all ${expected.length} members healthy again`);
    return failed(`still unhealthy: ${v.unhealthy.map((u) => u.name).join(', ')}`, [evidenceFrom(host, result, ctx.redact)]);
  });
}
