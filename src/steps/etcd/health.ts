/**
 * Waiting for etcd: one read-only probe script per poll (unit state, `endpoint health --cluster`,
 * `member list`, and the journal tail when the unit is not active), a pure evaluation of what it
 * printed, and a loop with a timeout that says what it waited for, on which host, with the last
 * output. A unit that fails or keeps restarting ends the wait at once with its journal.
 */
import { KubiError } from '../../errors.js';
import type { StepContext } from '../../engine/types.js';
import type { Host, Inventory } from '../../inventory/schema.js';
import { etcdClientUrl, etcdPeerUrl } from '../../render/etcd.js';
import { SECTION_FN, lines, parseKeyValues, sections } from '../host/script.js';
import { etcdctlShell, memberDifferences, parseEndpointHealth, parseMemberList, type EndpointHealth, type ExpectedMember, type Member } from './etcdctl.js';

export const ETCD_UNIT = 'etcd.service';

export interface UnitStatus {
  activeState: string;
  subState: string;
  nRestarts: number;
  mainPid: number;
}

export interface ClusterProbe {
  unit: UnitStatus;
  health: EndpointHealth[];
  /** null: the member list could not be read */
  members: Member[] | null;
  /** etcdctl's stderr (last lines) and the journal tail when the unit is not active */
  stderr: string;
  journal: string;
}

/** The read-only probe script. */
export function clusterProbeScript(): string {
  // stderr of etcdctl goes to its own section: `2>&1 1>&3` swaps the streams inside the braces
  const tail = (args: string[]) => `{ ${etcdctlShell(args, { commandTimeout: '4s' })} 2>&1 1>&3 3>&- | tail -n 4 | sed 's/^/stderr: /'; } 3>&1`;
  return `${SECTION_FN}
export LC_ALL=C
s unit; systemctl show -p ActiveState -p SubState -p NRestarts -p MainPID ${ETCD_UNIT} 2>/dev/null
if [ "$(systemctl is-active ${ETCD_UNIT} 2>/dev/null)" = active ]; then
  s health; ${tail(['endpoint', 'health', '--cluster', '-w', 'json'])}
  s members; ${tail(['member', 'list', '-w', 'json'])}
else
  # not running: asking it would only wait for timeouts; the journal says why
  s journal; journalctl -u ${ETCD_UNIT} -n 12 --no-pager -o cat 2>/dev/null
fi
true
`;
}

export function parseClusterProbe(output: string): ClusterProbe {
  const sec = sections(output);
  const kv = parseKeyValues(sec('unit'));
  const split = (text: string) => {
    const out: string[] = [];
    const err: string[] = [];
    for (const l of text.split('\n')) (l.startsWith('stderr: ') ? err : out).push(l.startsWith('stderr: ') ? l.slice(8) : l);
    return { out: out.join('\n'), err: err.filter(Boolean) };
  };
  const health = split(sec('health'));
  const members = split(sec('members'));
  return {
    unit: {
      activeState: kv.get('ActiveState') ?? 'unknown',
      subState: kv.get('SubState') ?? 'unknown',
      nRestarts: Number(kv.get('NRestarts') ?? 0) || 0,
      mainPid: Number(kv.get('MainPID') ?? 0) || 0,
    },
    health: parseEndpointHealth(health.out),
    members: parseMemberList(members.out),
    stderr: [...health.err, ...members.err].join(' | '),
    journal: lines(sec('journal')).slice(-12).join('\n'),
  };
}

export function expectedMembers(inv: Inventory): ExpectedMember[] {
  return inv.hosts.filter((h) => h.roles.includes('etcd')).map((h) => ({ name: h.name, peerURL: etcdPeerUrl(h) }));
}

export type Verdict =
  | { state: 'ready' }
  | { state: 'waiting'; waitingFor: string }
  | { state: 'failed'; reason: string };

/**
 * Pure: is the cluster what the inventory says, as seen from this member? Ready = the local unit
 * is active, every inventory member's client URL answers healthy, and the member list holds
 * exactly the inventory's names and peer URLs. `restartsAtStart` is the unit's NRestarts when the
 * wait began: see the crash-loop rule below.
 */
export function evaluateCluster(probe: ClusterProbe, inv: Inventory, host: Host, restartsAtStart: number): Verdict {
  const u = probe.unit;
  if (u.activeState === 'failed') return { state: 'failed', reason: `etcd.service failed (${u.subState})` };
  // a crash loop: since the wait began systemd restarted it and it is waiting to restart again (or
  // restarted it twice). One restart that is now starting is not one: the wait may have begun while
  // a restart was already scheduled (a member fixed between two runs).
  const restarts = u.nRestarts - restartsAtStart;
  if (u.activeState !== 'active' && ((restarts >= 1 && u.subState === 'auto-restart') || restarts >= 2)) {
    return { state: 'failed', reason: `etcd keeps exiting (restarted ${restarts} time(s), now ${u.activeState}/${u.subState})` };
  }
  if (u.activeState !== 'active') return { state: 'waiting', waitingFor: `etcd.service on ${host.name} to become active (now ${u.activeState}/${u.subState})` };
  const expected = expectedMembers(inv);
  const clientUrls = inv.hosts.filter((h) => h.roles.includes('etcd')).map((h) => ({ name: h.name, url: etcdClientUrl(h) }));
  const bad: string[] = [];
  for (const c of clientUrls) {
    const h = probe.health.find((e) => e.endpoint === c.url);
    if (!h) bad.push(`${c.name} not reported`);
    else if (!h.health) bad.push(`${c.name} unhealthy${h.error ? ` (${h.error})` : ''}`);
  }
  if (bad.length > 0) return { state: 'waiting', waitingFor: `every member to be healthy: ${bad.join(', ')}` };
  if (!probe.members) return { state: 'waiting', waitingFor: 'the member list to be readable' };
  const diff = memberDifferences(expected, probe.members);
  if (diff.length > 0) return { state: 'waiting', waitingFor: `the member list to match the inventory: ${diff.join('; ')}` };
  return { state: 'ready' };
}

/** How long to wait for etcd: generous, and longer for slow clusters (a large election timeout). */
export function etcdWaitTimeoutMs(inv: Inventory): number {
  return Math.max(180_000, 60 * inv.etcd.electionTimeoutMs);
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** what the caller waits for, for messages ("the cluster after starting etcd") */
  purpose: string;
}

function oneLine(text: string, max = 400): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Poll until the cluster is ready as seen from this member; throws a KubiError on failure or timeout. */
export async function waitForEtcdCluster(ctx: StepContext, opts: WaitOptions): Promise<ClusterProbe> {
  const timeoutMs = opts.timeoutMs ?? etcdWaitTimeoutMs(ctx.cluster.inventory);
  const intervalMs = opts.intervalMs ?? 1000;
  const start = ctx.cluster.now().getTime();
  let restartsAtStart: number | null = null;
  let last: { probe: ClusterProbe; verdict: Verdict } | null = null;
  for (;;) {
    if (ctx.cluster.signal.aborted) {
      throw new KubiError('cancelled', `stopped while waiting for ${opts.purpose}`, { host: ctx.host.name });
    }
    const res = await ctx.remote.script(clusterProbeScript(), { label: 'probe etcd cluster health', mutating: false, allowFailure: true });
    const probe = parseClusterProbe(res.stdout);
    restartsAtStart ??= probe.unit.nRestarts;
    const verdict = evaluateCluster(probe, ctx.cluster.inventory, ctx.host, restartsAtStart);
    last = { probe, verdict };
    if (verdict.state === 'ready') return probe;
    if (verdict.state === 'failed') {
      throw new KubiError('etcd-failed', `${verdict.reason} while waiting for ${opts.purpose}${probe.journal ? `; journal: ${oneLine(probe.journal)}` : ''}`, {
        host: ctx.host.name,
        hint: `read the whole log on ${ctx.host.name}: journalctl -u etcd -n 100; fix the cause, then run up again`,
      });
    }
    ctx.report(`waiting for ${verdict.waitingFor}`);
    const elapsed = ctx.cluster.now().getTime() - start;
    if (elapsed >= timeoutMs) break;
    await ctx.cluster.sleep(Math.min(intervalMs, Math.max(0, timeoutMs - elapsed)));
  }
  const waiting = last?.verdict.state === 'waiting' ? last.verdict.waitingFor : 'the cluster';
  const lastOutput = oneLine([last?.probe.stderr, last?.probe.journal].filter(Boolean).join(' | ')) || 'no output';
  throw new KubiError('etcd-wait-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${waiting} (${opts.purpose}); last output: ${lastOutput}`, {
    host: ctx.host.name,
    hint: `check the members: etcdctl endpoint health --cluster (as root on ${ctx.host.name} after: . /etc/profile.d/etcdctl.sh) and journalctl -u etcd`,
  });
}
