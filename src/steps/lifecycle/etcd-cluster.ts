/**
 * Talking to a RUNNING etcd cluster for membership work: find a healthy member to work through
 * (any one: never "the first host of the inventory"), read the cluster as that member sees it,
 * and change the membership (remove, add as a learner, promote, update a peer URL) with the
 * retries etcd needs (`unhealthy cluster` right after a removal, `not in sync` before a
 * promotion). Every call is etcdctl on a member host, with the admin certificate, over the
 * host's RemoteHost; the pure parts (view building, error classification) are exported for tests.
 */
import { KubiError, describeError } from '../../errors.js';
import type { Host, Inventory } from '../../inventory/schema.js';
import { etcdMembers } from '../../render/cluster.js';
import { etcdClientUrl, etcdPeerUrl } from '../../render/etcd.js';
import type { ExecResult, RemoteHost } from '../../transport/types.js';
import { SECTION_FN, sections } from '../host/script.js';
import { LOCAL_CLIENT_URL, etcdctlArgv, etcdctlShell, parseEndpointHealth, parseEndpointStatus, parseMemberList, toHexId, type EndpointHealth, type Member } from '../etcd/etcdctl.js';
import type { MemberHealth, MemberView } from './quorum.js';

/** Clock, sleep and cancellation (from the run's ClusterContext; fakes in tests). */
export interface Pace {
  now(): Date;
  sleep(ms: number): Promise<void>;
  signal?: AbortSignal;
}

/** The member the lifecycle code works through: a host running a healthy etcd member. */
export interface Via {
  name: string;
  remote: RemoteHost;
}

/** How one candidate answered the "are you healthy?" question. */
export interface SeedProbe {
  name: string;
  /** unreachable: no SSH connection; down: etcd not answering locally; unhealthy: answers without quorum */
  state: 'healthy' | 'unhealthy' | 'down' | 'unreachable';
  /** hex ids from `endpoint status` (when it answered) */
  memberId?: string;
  leaderId?: string;
  version?: string;
  detail?: string;
}

/** The cluster as a healthy member sees it. */
export interface ClusterView {
  via: string;
  members: Member[];
  health: EndpointHealth[];
  /** hex id of the leader, '' when unknown */
  leaderId: string;
  /** etcd server version ("3.4.23"), '' when unknown */
  version: string;
}

function run(remote: RemoteHost, args: string[], opts: { endpoints?: string[]; mutating?: boolean; label?: string; commandTimeout?: string } = {}): Promise<ExecResult> {
  return remote.exec(etcdctlArgv(args, { ...(opts.endpoints ? { endpoints: opts.endpoints } : {}), ...(opts.commandTimeout ? { commandTimeout: opts.commandTimeout } : {}) }), {
    allowFailure: true,
    mutating: opts.mutating ?? false,
    label: opts.label ?? `etcdctl ${args.slice(0, 2).join(' ')}`,
  });
}

/** The last meaningful line of etcdctl's stderr (its JSON log lines skipped). */
export function etcdctlError(res: Pick<ExecResult, 'stderr' | 'stdout' | 'exitCode'>): string {
  const lines = `${res.stderr}\n${res.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('{"level"'));
  const err = [...lines].reverse().find((l) => l.startsWith('Error:')) ?? lines[lines.length - 1] ?? `exit code ${res.exitCode}`;
  return err.replace(/^Error:\s*/, '');
}

/** Pure: a membership call failed for a reason that passes by itself (retry it). */
export function isTransientMembershipError(message: string): boolean {
  return /unhealthy cluster|not in sync|in sync with leader|leader changed|no leader|timed out|deadline exceeded|request cancelled|too many requests/i.test(message);
}

/**
 * One read-only round trip on a candidate: is its local member healthy, and who leads. etcdctl
 * is asked only while the unit runs: against a member that is not running it waits for its
 * timeouts (seconds per probe), which made `etcd.members` take ~25 s on a fresh 3-node cluster.
 */
export function seedProbeScript(): string {
  return `${SECTION_FN}
s unit; systemctl is-active etcd.service 2>/dev/null
case "$(systemctl is-active etcd.service 2>/dev/null)" in active|activating|reloading|deactivating)
s health; ${etcdctlShell(['endpoint', 'health', '-w', 'json'], { commandTimeout: '4s' })} 2>/dev/null
s status; ${etcdctlShell(['endpoint', 'status', '-w', 'json'], { commandTimeout: '4s' })} 2>/dev/null
;; esac
true
`;
}

export function parseSeedProbe(name: string, stdout: string): SeedProbe {
  const sec = sections(stdout);
  const health = parseEndpointHealth(sec('health'));
  const status = parseEndpointStatus(sec('status'))[0];
  const unit = sec('unit').trim();
  const base = status ? { memberId: status.memberId, leaderId: status.leaderId, version: status.version } : {};
  if (health[0]?.health) return { name, state: 'healthy', ...base };
  if (status) return { name, state: 'unhealthy', ...base, detail: health[0]?.error ?? 'no quorum' };
  return { name, state: 'down', detail: unit ? `etcd.service is ${unit}` : 'etcd does not answer' };
}

/** Ask every candidate (in parallel) whether its member is healthy. */
export async function probeSeeds(candidates: readonly { name: string; remote: RemoteHost | undefined }[]): Promise<SeedProbe[]> {
  return Promise.all(
    candidates.map(async (c): Promise<SeedProbe> => {
      if (!c.remote) return { name: c.name, state: 'unreachable', detail: 'no SSH connection' };
      try {
        const res = await c.remote.script(seedProbeScript(), { label: 'probe the local etcd member', mutating: false, allowFailure: true, timeoutMs: 30_000 });
        return parseSeedProbe(c.name, res.stdout);
      } catch (e) {
        return { name: c.name, state: 'unreachable', detail: describeError(e) };
      }
    }),
  );
}

/** Pure: the seed to work through: the leader when it is healthy (membership changes go there anyway), else any healthy one. */
export function chooseSeed(probes: readonly SeedProbe[]): SeedProbe | null {
  const healthy = probes.filter((p) => p.state === 'healthy');
  return healthy.find((p) => p.memberId && p.memberId === p.leaderId) ?? healthy[0] ?? null;
}

/** Read the member list, the health of every member and the leader, through `via` (one round trip). */
export async function readClusterView(via: Via, inv: Inventory): Promise<ClusterView> {
  const listRes = await run(via.remote, ['member', 'list', '-w', 'json'], { label: 'etcdctl member list' });
  const members = parseMemberList(listRes.stdout);
  if (!members) {
    throw new KubiError('etcd-member-list', `cannot read the etcd member list through ${via.name}: ${etcdctlError(listRes)}`, {
      host: via.name,
      hint: `check the member: etcdctl endpoint health (as root on ${via.name} after: . /etc/profile.d/etcdctl.sh)`,
    });
  }
  const urls = new Set<string>();
  for (const m of members) for (const u of m.clientURLs) urls.add(u);
  for (const h of etcdMembers(inv)) urls.add(etcdClientUrl(h));
  const endpoints = [...urls].sort();
  const script = `${SECTION_FN}
s health; ${etcdctlShell(['endpoint', 'health', '-w', 'json'], { endpoints, commandTimeout: '4s' })} 2>/dev/null
s status; ${etcdctlShell(['endpoint', 'status', '-w', 'json'], { endpoints: [LOCAL_CLIENT_URL], commandTimeout: '4s' })} 2>/dev/null
true
`;
  const res = await via.remote.script(script, { label: 'probe every etcd member', mutating: false, allowFailure: true });
  const sec = sections(res.stdout);
  const status = parseEndpointStatus(sec('status'))[0];
  return { via: via.name, members, health: parseEndpointHealth(sec('health')), leaderId: status?.leaderId ?? '', version: status?.version ?? '' };
}

/** Pure: the member of an inventory host (by name, else by its inventory peer URL). */
export function memberOf(view: Pick<ClusterView, 'members'>, host: Host): Member | undefined {
  return view.members.find((m) => m.name === host.name) ?? view.members.find((m) => m.peerURLs.includes(etcdPeerUrl(host)));
}

/** Pure: the name a member goes by (an unstarted member has none yet: the inventory host with its peer URL). */
export function memberName(m: Member, inv: Inventory): string {
  if (m.name) return m.name;
  const h = etcdMembers(inv).find((x) => m.peerURLs.includes(etcdPeerUrl(x)));
  return h?.name ?? `(unstarted ${m.peerURLs.join(',')})`;
}

/** Pure: per member, healthy or not (a member's health is the health of its client URL). */
export function memberViews(view: Pick<ClusterView, 'members' | 'health'>, inv: Inventory): MemberView[] {
  return view.members.map((m) => {
    const name = memberName(m, inv);
    const host = inv.hosts.find((h) => h.name === name);
    const urls = m.clientURLs.length > 0 ? m.clientURLs : host ? [etcdClientUrl(host)] : [];
    const h = view.health.find((e) => urls.includes(e.endpoint));
    const health: MemberHealth = !h ? 'unreachable' : h.health ? 'healthy' : 'unhealthy';
    return { name, health, isLearner: m.isLearner };
  });
}

/** Pure: `name=peerURL,...` for every member (the initial cluster a joining member must be started with). */
export function initialClusterOf(members: readonly Member[], inv: Inventory, joining: Host): string {
  const parts: string[] = [];
  for (const m of members) {
    const name = m.peerURLs.includes(etcdPeerUrl(joining)) ? joining.name : memberName(m, inv);
    for (const u of m.peerURLs) parts.push(`${name}=${u}`);
  }
  return parts.sort().join(',');
}

async function withRetry<T>(what: string, via: Via, pace: Pace, timeoutMs: number, attempt: () => Promise<{ ok: true; value: T } | { ok: false; error: string }>): Promise<T> {
  const start = pace.now().getTime();
  let last = '';
  for (;;) {
    if (pace.signal?.aborted) throw new KubiError('cancelled', `stopped while trying to ${what}`, { host: via.name });
    const r = await attempt();
    if (r.ok) return r.value;
    last = r.error;
    if (!isTransientMembershipError(last) || pace.now().getTime() - start >= timeoutMs) break;
    await pace.sleep(1000);
  }
  throw new KubiError('etcd-membership', `cannot ${what}: ${last}`, {
    host: via.name,
    hint: 'etcd refuses membership changes while the cluster is not healthy: check etcdctl endpoint health --cluster, then run the command again',
  });
}

/** `member remove <id>` (retried while the cluster settles; "member not found" counts as done). */
export async function removeMember(via: Via, id: string, pace: Pace, timeoutMs = 30_000): Promise<void> {
  await withRetry(`remove etcd member ${id}`, via, pace, timeoutMs, async () => {
    const res = await run(via.remote, ['member', 'remove', id], { mutating: true, label: `etcdctl member remove ${id}` });
    if (res.exitCode === 0) return { ok: true, value: undefined };
    const err = etcdctlError(res);
    if (/member not found/i.test(err)) return { ok: true, value: undefined };
    return { ok: false, error: err };
  });
}

/** Pure: the new member's id from `member add -w json`. */
export function parseMemberAdd(stdout: string): { id: string; members: Member[] } | null {
  const start = stdout.indexOf('{');
  if (start < 0) return null;
  try {
    const safe = stdout.slice(start).replace(/"(ID|member_id|cluster_id)":\s*(\d+)/g, '"$1":"$2"');
    const doc = JSON.parse(safe) as { member?: { ID?: string } };
    const id = toHexId(doc.member?.ID);
    const members = parseMemberList(stdout.slice(start));
    return id ? { id, members: members ?? [] } : null;
  } catch {
    return null;
  }
}

/**
 * `member add <name> --peer-urls=<url> [--learner]`, retried for the "unhealthy cluster" etcd
 * answers for a few seconds after a removal (strict reconfiguration check).
 */
export async function addMember(via: Via, host: Host, opts: { learner: boolean }, pace: Pace, timeoutMs = 60_000): Promise<{ id: string; members: Member[] }> {
  const args = ['member', 'add', host.name, `--peer-urls=${etcdPeerUrl(host)}`, ...(opts.learner ? ['--learner'] : []), '-w', 'json'];
  return withRetry(`add ${host.name} to the etcd cluster${opts.learner ? ' as a learner' : ''}`, via, pace, timeoutMs, async () => {
    const res = await run(via.remote, args, { mutating: true, label: `etcdctl member add ${host.name}` });
    if (res.exitCode === 0) {
      const parsed = parseMemberAdd(res.stdout);
      if (parsed) return { ok: true, value: parsed };
      return { ok: false, error: `unreadable answer: ${res.stdout.slice(0, 200)}` };
    }
    return { ok: false, error: etcdctlError(res) };
  });
}

/** `member promote <id>`, retried until the learner has caught up with the leader. */
export async function promoteMember(via: Via, id: string, pace: Pace, timeoutMs: number): Promise<void> {
  await withRetry(`promote learner ${id} to a voting member`, via, pace, timeoutMs, async () => {
    const res = await run(via.remote, ['member', 'promote', id], { mutating: true, label: `etcdctl member promote ${id}` });
    if (res.exitCode === 0) return { ok: true, value: undefined };
    const err = etcdctlError(res);
    if (/not a learner|is not a learner/i.test(err)) return { ok: true, value: undefined };
    return { ok: false, error: err };
  });
}

/** `member update <id> --peer-urls=<url>`: a member whose address changed. */
export async function updatePeerUrl(via: Via, id: string, peerUrl: string, pace: Pace, timeoutMs = 30_000): Promise<void> {
  await withRetry(`update the peer URL of member ${id}`, via, pace, timeoutMs, async () => {
    const res = await run(via.remote, ['member', 'update', id, `--peer-urls=${peerUrl}`], { mutating: true, label: `etcdctl member update ${id}` });
    return res.exitCode === 0 ? { ok: true, value: undefined } : { ok: false, error: etcdctlError(res) };
  });
}

/** Does this etcd version have learners (3.4 and later)? */
export function supportsLearners(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 3 || (major === 3 && minor >= 4);
}

/**
 * Find a healthy member among `candidates` and read the cluster through it. Null when none is
 * healthy (with every probe, so the caller can explain).
 */
export async function findHealthyMember(
  candidates: readonly { name: string; remote: RemoteHost | undefined }[],
  inv: Inventory,
): Promise<{ via: Via; view: ClusterView; probes: SeedProbe[] } | { via: null; view: null; probes: SeedProbe[] }> {
  const probes = await probeSeeds(candidates);
  const seed = chooseSeed(probes);
  if (!seed) return { via: null, view: null, probes };
  const remote = candidates.find((c) => c.name === seed.name)!.remote!;
  const via = { name: seed.name, remote };
  return { via, view: await readClusterView(via, inv), probes };
}

/** Pure: member views when no member is healthy (from the probes; the inventory says who should be a member). */
export function viewsFromProbes(probes: readonly SeedProbe[], inv: Inventory, target?: string): MemberView[] {
  return etcdMembers(inv).map((h) => {
    if (h.name === target) return { name: h.name, health: 'unreachable' as const };
    const p = probes.find((x) => x.name === h.name);
    const health: MemberHealth = !p || p.state === 'unreachable' || p.state === 'down' ? 'unreachable' : p.state === 'healthy' ? 'healthy' : 'unhealthy';
    return { name: h.name, health };
  });
}

/** One line per probe, for messages: "node1: etcd answers but has no quorum". */
export function describeProbes(probes: readonly SeedProbe[]): string {
  return probes
    .map((p) => {
      switch (p.state) {
        case 'healthy':
          return `${p.name}: healthy`;
        case 'unhealthy':
          return `${p.name}: etcd runs but is not healthy (${p.detail ?? 'no quorum'})`;
        case 'down':
          return `${p.name}: ${p.detail ?? 'etcd does not answer'}`;
        case 'unreachable':
          return `${p.name}: unreachable (${p.detail ?? 'no SSH connection'})`;
      }
    })
    .join('; ');
}
