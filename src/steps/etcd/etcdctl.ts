/**
 * etcdctl as the steps use it on a member: the command line (explicit TLS flags and endpoints,
 * never the admins' profile.d environment: etcdctl refuses --endpoints while ETCDCTL_ENDPOINTS
 * is set, so it is removed from the environment) and pure parsers of its JSON output, which
 * etcdctl 3.4 and 3.5 both print on stdout (the simple format of `endpoint health` goes to stderr
 * on 3.4). 64-bit member ids are kept as hex strings: JSON numbers would lose their low bits.
 */
import { ETCD_PKI } from '../../render/cluster.js';
import { quoteWord } from '../../transport/quote.js';

export const ETCDCTL_BIN = '/usr/local/bin/etcdctl';
export const LOCAL_CLIENT_URL = 'https://127.0.0.1:2379';

export interface EtcdctlOptions {
  /** default: the local member */
  endpoints?: readonly string[];
  /** default 5s */
  commandTimeout?: string;
  /** default 2s */
  dialTimeout?: string;
}

/** argv of an etcdctl call with the admin certificate. */
export function etcdctlArgv(args: readonly string[], opts: EtcdctlOptions = {}): string[] {
  return [
    'env',
    '-u',
    'ETCDCTL_ENDPOINTS',
    'ETCDCTL_API=3',
    ETCDCTL_BIN,
    `--endpoints=${(opts.endpoints ?? [LOCAL_CLIENT_URL]).join(',')}`,
    `--cacert=${ETCD_PKI.ca}`,
    `--cert=${ETCD_PKI.adminCert}`,
    `--key=${ETCD_PKI.adminKey}`,
    `--dial-timeout=${opts.dialTimeout ?? '2s'}`,
    `--command-timeout=${opts.commandTimeout ?? '5s'}`,
    ...args,
  ];
}

/** The same call as one shell command line (for scripts). */
export function etcdctlShell(args: readonly string[], opts: EtcdctlOptions = {}): string {
  return etcdctlArgv(args, opts).map(quoteWord).join(' ');
}

/** Turn big integer fields into strings before JSON.parse (ids are uint64). */
function parseJsonWithIds(text: string): unknown {
  const safe = text.replace(/"(ID|member_id|cluster_id|leader)":\s*(\d+)/g, '"$1":"$2"');
  return JSON.parse(safe);
}

export function toHexId(decimal: string | number | undefined): string {
  if (decimal === undefined) return '';
  return BigInt(decimal).toString(16);
}

/** The JSON document on stdout (etcdctl may print log lines on stderr only, but be lenient). */
function jsonPart(stdout: string, open: '[' | '{'): string | null {
  const start = stdout.indexOf(open);
  if (start < 0) return null;
  return stdout.slice(start).trim();
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  error?: string;
}

/** `etcdctl endpoint health -w json` (with or without --cluster). */
export function parseEndpointHealth(stdout: string): EndpointHealth[] {
  const text = jsonPart(stdout, '[');
  if (!text) return [];
  try {
    const arr = JSON.parse(text) as { endpoint?: string; health?: boolean; error?: string }[];
    return arr
      .map((e) => ({ endpoint: e.endpoint ?? '', health: e.health === true, ...(e.error ? { error: e.error } : {}) }))
      .sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  } catch {
    return [];
  }
}

export interface Member {
  /** hex id, as `etcdctl member list` prints it */
  id: string;
  /** '' for a member that was added but never started */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** `etcdctl member list -w json`. */
export function parseMemberList(stdout: string): Member[] | null {
  const text = jsonPart(stdout, '{');
  if (!text) return null;
  try {
    const doc = parseJsonWithIds(text) as { members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[] };
    return (doc.members ?? []).map((m) => ({
      id: toHexId(m.ID),
      name: m.name ?? '',
      peerURLs: [...(m.peerURLs ?? [])].sort(),
      clientURLs: [...(m.clientURLs ?? [])].sort(),
      isLearner: m.isLearner === true,
    }));
  } catch {
    return null;
  }
}

export interface EndpointStatus {
  endpoint: string;
  /** hex id of the member that answered */
  memberId: string;
  /** hex id of the leader it knows */
  leaderId: string;
  version: string;
  raftTerm: number;
}

/** `etcdctl endpoint status -w json`. */
export function parseEndpointStatus(stdout: string): EndpointStatus[] {
  const text = jsonPart(stdout, '[');
  if (!text) return [];
  try {
    const arr = parseJsonWithIds(text) as { Endpoint?: string; Status?: { header?: { member_id?: string }; leader?: string; version?: string; raftTerm?: number } }[];
    return arr.map((e) => ({
      endpoint: e.Endpoint ?? '',
      memberId: toHexId(e.Status?.header?.member_id),
      leaderId: toHexId(e.Status?.leader),
      version: e.Status?.version ?? '',
      raftTerm: e.Status?.raftTerm ?? 0,
    }));
  } catch {
    return [];
  }
}

export interface ExpectedMember {
  name: string;
  peerURL: string;
}

/**
 * Compare the member list with the inventory: the same names with the same peer URLs, nothing
 * more, nothing less. Returns the differences as short phrases ([] = match).
 */
export function memberDifferences(expected: readonly ExpectedMember[], actual: readonly Member[]): string[] {
  const out: string[] = [];
  for (const e of expected) {
    const m = actual.find((a) => a.name === e.name) ?? actual.find((a) => a.peerURLs.includes(e.peerURL));
    if (!m) out.push(`${e.name} is not a member`);
    else if (m.name === '') out.push(`${e.name} was added but has not started`);
    else if (m.name !== e.name) out.push(`${e.peerURL} belongs to member ${m.name}, expected ${e.name}`);
    else if (m.peerURLs.length !== 1 || m.peerURLs[0] !== e.peerURL) out.push(`${e.name} has peer URLs ${m.peerURLs.join(',')}, expected ${e.peerURL}`);
    else if (m.isLearner) out.push(`${e.name} is still a learner`);
  }
  for (const m of actual) {
    if (!expected.some((e) => e.name === m.name || m.peerURLs.includes(e.peerURL))) {
      out.push(`unexpected member ${m.name || '(unstarted)'} ${m.peerURLs.join(',')}`);
    }
  }
  return out;
}
