/**
 * Pure parsers of etcdctl (v3 API, `-w json`) output and the verdicts built on them: endpoint
 * health, member list, endpoint status. Tested on outputs captured from etcdctl 3.4.23.
 *
 * etcdctl prints member and cluster ids as JSON numbers that exceed 2^53; they are read as decimal
 * strings (never through a JS number) and shown in hex like `etcdctl member list` does.
 * With some endpoints down etcdctl still prints the JSON of the others on stdout and exits 1;
 * `endpoint status` names the failed endpoints on stderr only.
 */

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  took?: string;
  error?: string;
}

export interface EtcdMember {
  /** decimal id as etcdctl prints it */
  id: string;
  /** hex id, as `etcdctl member list` tables show it */
  idHex: string;
  /** empty when the member was added but never started */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EndpointStatus {
  endpoint: string;
  memberId: string;
  /** decimal id of the leader this endpoint sees; null when it sees none */
  leader: string | null;
  version: string;
  raftTerm: number;
  isLearner: boolean;
  errors: string[];
}

const ID_KEYS = /("(?:ID|cluster_id|member_id|leader)"\s*:\s*)(\d+)/g;

/** JSON.parse that keeps etcd's 64-bit ids exact (as decimal strings). */
export function parseEtcdJson(text: string): unknown {
  return JSON.parse(text.replace(ID_KEYS, '$1"$2"'));
}

export function idToHex(decimal: string): string {
  try {
    return BigInt(decimal).toString(16);
  } catch {
    return decimal;
  }
}

/** The first line of stdout that starts a JSON document (etcdctl prints one line). */
function jsonLine(stdout: string, open: '[' | '{'): string | null {
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t.startsWith(open)) return t;
  }
  return null;
}

export class EtcdctlParseError extends Error {
  constructor(what: string, detail: string) {
    super(`could not read etcdctl ${what} output: ${detail}`);
    this.name = 'EtcdctlParseError';
  }
}

export function parseEndpointHealth(stdout: string): EndpointHealth[] {
  const line = jsonLine(stdout, '[');
  if (line === null) throw new EtcdctlParseError('endpoint health', 'no JSON array on stdout');
  const raw = parseEtcdJson(line);
  if (!Array.isArray(raw)) throw new EtcdctlParseError('endpoint health', 'not an array');
  return raw.map((e: Record<string, unknown>) => {
    const out: EndpointHealth = { endpoint: String(e.endpoint ?? ''), health: e.health === true || e.health === 'true' };
    if (typeof e.took === 'string') out.took = e.took;
    if (typeof e.error === 'string' && e.error !== '') out.error = e.error;
    return out;
  });
}

export function parseMemberList(stdout: string): { clusterId: string; members: EtcdMember[] } {
  const line = jsonLine(stdout, '{');
  if (line === null) throw new EtcdctlParseError('member list', 'no JSON object on stdout');
  const raw = parseEtcdJson(line) as { header?: { cluster_id?: string }; members?: Record<string, unknown>[] };
  const members = (raw.members ?? []).map((m) => {
    const id = String(m.ID ?? '0');
    return {
      id,
      idHex: idToHex(id),
      name: typeof m.name === 'string' ? m.name : '',
      peerURLs: Array.isArray(m.peerURLs) ? m.peerURLs.map(String) : [],
      clientURLs: Array.isArray(m.clientURLs) ? m.clientURLs.map(String) : [],
      isLearner: m.isLearner === true,
    };
  });
  return { clusterId: String(raw.header?.cluster_id ?? ''), members };
}

export function parseEndpointStatus(stdout: string, stderr = ''): { statuses: EndpointStatus[]; failures: { endpoint: string; error: string }[] } {
  const line = jsonLine(stdout, '[');
  const statuses: EndpointStatus[] = [];
  if (line !== null) {
    const raw = parseEtcdJson(line);
    if (!Array.isArray(raw)) throw new EtcdctlParseError('endpoint status', 'not an array');
    for (const e of raw as { Endpoint?: string; Status?: Record<string, unknown> }[]) {
      const s = e.Status ?? {};
      const header = (s.header ?? {}) as Record<string, unknown>;
      const leader = s.leader === undefined || s.leader === '0' ? null : String(s.leader);
      statuses.push({
        endpoint: String(e.Endpoint ?? ''),
        memberId: String(header.member_id ?? ''),
        leader,
        version: String(s.version ?? ''),
        raftTerm: Number(s.raftTerm ?? 0),
        isLearner: s.isLearner === true,
        errors: Array.isArray(s.errors) ? s.errors.map(String) : [],
      });
    }
  }
  const failures: { endpoint: string; error: string }[] = [];
  for (const m of stderr.matchAll(/Failed to get the status of endpoint (\S+) \((.*)\)/g)) {
    failures.push({ endpoint: m[1]!, error: m[2]! });
  }
  return { statuses, failures };
}

// ------------------------------------------------------------------------------------------------
// verdicts

export interface ExpectedMember {
  name: string;
  /** https://<address>:2379 */
  clientURL: string;
  /** https://<address>:2380 */
  peerURL: string;
}

export interface HealthVerdict {
  healthy: string[];
  unhealthy: { name: string; endpoint: string; error: string }[];
  /** members needed for quorum */
  quorum: number;
  hasQuorum: boolean;
}

/** Which inventory members are healthy; quorum is counted over the inventory's member count. */
export function judgeHealth(expected: readonly ExpectedMember[], health: readonly EndpointHealth[]): HealthVerdict {
  const healthy: string[] = [];
  const unhealthy: HealthVerdict['unhealthy'] = [];
  for (const m of expected) {
    const h = health.find((x) => sameUrl(x.endpoint, m.clientURL));
    if (h?.health) healthy.push(m.name);
    else unhealthy.push({ name: m.name, endpoint: m.clientURL, error: h ? (h.error ?? 'unhealthy') : 'no result for this endpoint' });
  }
  const quorum = Math.floor(expected.length / 2) + 1;
  return { healthy, unhealthy, quorum, hasQuorum: healthy.length >= quorum };
}

/** Differences between the member list and the inventory (names + peer URLs); [] when they match. */
export function compareMembers(expected: readonly ExpectedMember[], members: readonly EtcdMember[]): string[] {
  const problems: string[] = [];
  for (const e of expected) {
    const byName = members.find((m) => m.name === e.name);
    const byPeer = members.find((m) => m.peerURLs.some((u) => sameUrl(u, e.peerURL)));
    if (!byName && !byPeer) {
      problems.push(`${e.name} (${e.peerURL}) is not a member`);
      continue;
    }
    if (!byName && byPeer) {
      problems.push(
        byPeer.name === ''
          ? `${e.name} was added (id ${byPeer.idHex}, ${e.peerURL}) but has not started yet`
          : `the member at ${e.peerURL} is named ${byPeer.name}, not ${e.name}`,
      );
      continue;
    }
    const m = byName!;
    if (!m.peerURLs.some((u) => sameUrl(u, e.peerURL))) {
      problems.push(`${e.name} has peer URL ${m.peerURLs.join(',') || '(none)'}, the inventory says ${e.peerURL}`);
    }
    if (m.isLearner) problems.push(`${e.name} is still a learner (not a voting member)`);
  }
  for (const m of members) {
    const known = expected.some((e) => e.name === m.name || m.peerURLs.some((u) => sameUrl(u, e.peerURL)));
    if (!known) problems.push(`unexpected member ${m.name || '(unnamed)'} (id ${m.idHex}, ${m.peerURLs.join(',') || 'no peer URL'}) is not in the inventory`);
  }
  return problems;
}

export interface LeaderVerdict {
  ok: boolean;
  /** leader member id (decimal) when exactly one is seen */
  leaderId: string | null;
  message: string;
}

/** Exactly one leader: every answering endpoint names the same leader, and that leader is a member. */
export function judgeLeader(
  statuses: readonly EndpointStatus[],
  members: readonly Pick<EtcdMember, 'id' | 'idHex' | 'name'>[],
): LeaderVerdict {
  const nameOf = (id: string): string => members.find((m) => m.id === id)?.name || idToHex(id);
  if (statuses.length === 0) return { ok: false, leaderId: null, message: 'no endpoint answered' };
  const withoutLeader = statuses.filter((s) => s.leader === null);
  if (withoutLeader.length > 0) {
    const errs = [...new Set(withoutLeader.flatMap((s) => s.errors))];
    return {
      ok: false,
      leaderId: null,
      message: `no leader seen by ${withoutLeader.map((s) => s.endpoint).join(', ')}${errs.length ? ` (${errs.join('; ')})` : ''}`,
    };
  }
  const leaders = [...new Set(statuses.map((s) => s.leader!))];
  if (leaders.length > 1) {
    return { ok: false, leaderId: null, message: `endpoints disagree on the leader: ${leaders.map(nameOf).join(', ')}` };
  }
  const leader = leaders[0]!;
  if (!members.some((m) => m.id === leader)) {
    return { ok: false, leaderId: leader, message: `the leader ${idToHex(leader)} is not in the member list` };
  }
  return { ok: true, leaderId: leader, message: `leader ${nameOf(leader)} (term ${Math.max(...statuses.map((s) => s.raftTerm))})` };
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
