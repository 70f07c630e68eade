/**
 * etcd layer: every member healthy (and, separately, whether the cluster has quorum: a stopped
 * member shows as "degraded but with quorum" naming it, a failed "every member healthy" row next to a
 * passed "quorum" row), member list equals the inventory (names + peer URLs), exactly one leader, a
 * write/read/delete round trip with the admin certificate (unique key under /kubi-verify/, always
 * deleted), a client without a certificate is refused (per member), certificates valid for more than
 * 30 days (per member; a warning otherwise).
 */
import type { Host } from '../../inventory/schema.js';
import { type Check, type CheckOutcome, failed, type Layer, notRun, passed, retryCheck, warning } from '../check.js';
import { remoteFor, type SmokeContext } from '../context.js';
import { type Evidence, evidenceFrom } from '../evidence.js';
import {
  compareMembers,
  type HealthVerdict,
  judgeHealth,
  judgeLeader,
  parseEndpointHealth,
  parseEndpointStatus,
  parseEtcdJson,
  parseMemberList,
} from '../parse/etcdctl.js';
import { judgeClientCertProbe, judgeExpiry, parsePemFiles } from '../parse/tls.js';
import { quoteWord } from '../../transport/quote.js';
import { allEndpoints, etcdctl, etcdHosts, expectedMembers } from './etcd-client.js';

/** The last health verdict of this run, read by the quorum and per-member checks. */
const lastHealth = new WeakMap<SmokeContext, HealthVerdict>();

export const etcdLayer: Layer = {
  id: 'etcd',
  title: 'etcd',
  requires: ['hosts'],
  async plan(ctx) {
    const members = etcdHosts(ctx);
    if (members.length === 0) return { notRun: 'no etcd hosts in the inventory' };
    const checks: Check[] = [healthCheck, quorumCheck, membersCheck, leaderCheck, roundTripCheck];
    for (const h of members) checks.push(clientCertCheck(h), expiryCheck(h, ctx.options.expiryWarnDays));
    return checks;
  },
};

const healthCheck: Check = {
  id: 'etcd.health',
  layer: 'etcd',
  title: 'every member healthy',
  async run(ctx) {
    const expected = expectedMembers(ctx);
    return retryCheck(ctx, { what: 'every etcd member to be healthy' }, async () => {
      const { host, result } = await etcdctl(ctx, ['endpoint', 'health', '-w', 'json'], { label: 'verify: etcd endpoint health' });
      const ev = evidenceFrom(host, result, ctx.redact);
      let health;
      try {
        health = parseEndpointHealth(result.stdout);
      } catch (e) {
        return failed(`etcdctl endpoint health gave no result on ${host}: ${(e as Error).message}`, [ev]);
      }
      const v = judgeHealth(expected, health);
      lastHealth.set(ctx, v);
      if (v.unhealthy.length === 0) return passed(`${v.healthy.length} of ${expected.length} members healthy`);
      const who = v.unhealthy.map((u) => `${u.name} (${u.endpoint}): ${u.error}`).join('; ');
      const evidence = [ev, ...(await serviceEvidence(ctx, v.unhealthy.map((u) => u.name)))];
      if (v.hasQuorum) {
        return failed(
          `degraded but with quorum: ${v.unhealthy.length === 1 ? 'member' : 'members'} ${v.unhealthy.map((u) => u.name).join(', ')} unhealthy, ${v.healthy.length} of ${expected.length} healthy — ${who}`,
          evidence,
        );
      }
      return failed(`quorum lost: only ${v.healthy.length} of ${expected.length} members healthy (need ${v.quorum}) — ${who}`, evidence);
    });
  },
};

/** `systemctl is-active etcd` on unhealthy members that are reachable: shows a stopped service as evidence. */
async function serviceEvidence(ctx: SmokeContext, names: string[]): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for (const name of names) {
    const remote = ctx.remotes.get(name);
    if (!remote) continue;
    try {
      const r = await remote.exec(['systemctl', 'is-active', 'etcd'], { sudo: false, allowFailure: true, label: 'verify: etcd service state', mutating: false });
      out.push(evidenceFrom(name, r, ctx.redact));
    } catch {
      // the evidence is best effort; the health row already names the member
    }
  }
  return out;
}

/** Once the health check saw the quorum lost (after its own retries), later checks report at once instead of waiting again. */
function noRetryWithoutQuorum(ctx: SmokeContext): { timeoutMs?: number } {
  return lastHealth.get(ctx)?.hasQuorum === false ? { timeoutMs: 0 } : {};
}

const quorumCheck: Check = {
  id: 'etcd.quorum',
  layer: 'etcd',
  title: 'quorum',
  async run(ctx) {
    const v = lastHealth.get(ctx);
    if (!v) return notRun('no health result');
    const n = v.healthy.length + v.unhealthy.length;
    if (v.hasQuorum) {
      const spare = v.healthy.length - v.quorum;
      return passed(`${v.healthy.length} of ${n} members healthy, quorum needs ${v.quorum} (${spare} more may fail)`);
    }
    return failed(`quorum lost: ${v.healthy.length} of ${n} members healthy, quorum needs ${v.quorum}`);
  },
};

const membersCheck: Check = {
  id: 'etcd.members',
  layer: 'etcd',
  title: 'member list matches the inventory',
  async run(ctx) {
    const expected = expectedMembers(ctx);
    return retryCheck(ctx, { what: 'the etcd member list to match the inventory' }, async () => {
      const { host, result } = await etcdctl(ctx, ['member', 'list', '-w', 'json'], { label: 'verify: etcd member list' });
      const ev = evidenceFrom(host, result, ctx.redact);
      if (result.exitCode !== 0) return failed(`etcdctl member list failed on ${host}`, [ev]);
      const { members } = parseMemberList(result.stdout);
      const problems = compareMembers(expected, members);
      if (problems.length > 0) return failed(problems.join('; '), [ev]);
      return passed(members.map((m) => m.name).sort().join(', '));
    });
  },
};

const leaderCheck: Check = {
  id: 'etcd.leader',
  layer: 'etcd',
  title: 'one leader',
  async run(ctx) {
    return retryCheck(ctx, { what: 'etcd to have one leader', ...noRetryWithoutQuorum(ctx) }, async () => {
      const list = await etcdctl(ctx, ['member', 'list', '-w', 'json'], { label: 'verify: etcd member list' });
      const members = list.result.exitCode === 0 ? parseMemberList(list.result.stdout).members : [];
      const { host, result } = await etcdctl(ctx, ['endpoint', 'status', '-w', 'json'], { label: 'verify: etcd endpoint status' });
      const ev = evidenceFrom(host, result, ctx.redact);
      const { statuses, failures } = parseEndpointStatus(result.stdout, result.stderr);
      const v = judgeLeader(statuses, members);
      if (!v.ok) return failed(v.message, [ev]);
      const note = failures.length > 0 ? `; no status from ${failures.map((f) => f.endpoint).join(', ')}` : '';
      return passed(`${v.message}, agreed by ${statuses.length} of ${allEndpoints(ctx).length} endpoints${note}`);
    });
  },
};

const roundTripCheck: Check = {
  id: 'etcd.round-trip',
  layer: 'etcd',
  title: 'write, read and delete a key',
  async run(ctx): Promise<CheckOutcome> {
    const key = `/kubi-verify/${ctx.randomId()}-${Date.now().toString(36)}`;
    const value = `kubi-verify-${ctx.randomId()}`;
    const evidence: Evidence[] = [];
    let written = false;
    try {
      return await retryCheck(ctx, { what: 'an etcd write/read/delete round trip', ...noRetryWithoutQuorum(ctx) }, async () => {
        const put = await etcdctl(ctx, ['put', key, value], { label: 'verify: etcd put', mutating: true });
        evidence.splice(0, evidence.length, evidenceFrom(put.host, put.result, ctx.redact));
        if (put.result.exitCode !== 0 || put.result.stdout.trim() !== 'OK') return failed(`put ${key} failed on ${put.host}`, [...evidence]);
        written = true;
        const get = await etcdctl(ctx, ['get', key, '--print-value-only'], { label: 'verify: etcd get' });
        evidence.push(evidenceFrom(get.host, get.result, ctx.redact));
        if (get.result.stdout.trim() !== value) return failed(`read back ${JSON.stringify(get.result.stdout.trim())}, wrote ${JSON.stringify(value)}`, [...evidence]);
        const del = await etcdctl(ctx, ['del', key], { label: 'verify: etcd del', mutating: true });
        evidence.push(evidenceFrom(del.host, del.result, ctx.redact));
        if (del.result.exitCode !== 0 || del.result.stdout.trim() !== '1') return failed(`delete of ${key} removed ${del.result.stdout.trim() || 'nothing'}`, [...evidence]);
        written = false;
        const again = await etcdctl(ctx, ['get', key, '-w', 'json'], { label: 'verify: etcd get after delete' });
        if (again.result.exitCode !== 0 || getCount(again.result.stdout) !== 0) return failed(`${key} is still there after delete`, [...evidence, evidenceFrom(again.host, again.result, ctx.redact)]);
        return passed(`put, get and del of ${key} through ${put.host}`);
      });
    } finally {
      if (written) await etcdctl(ctx, ['del', key], { label: 'verify: etcd cleanup', mutating: true }).catch(() => undefined);
    }
  },
};

/** `etcdctl get -w json`: the number of keys found (etcd omits "count" when it is 0); -1 when unreadable. */
export function getCount(stdout: string): number {
  try {
    const raw = parseEtcdJson(stdout.trim()) as { count?: number };
    return raw.count ?? 0;
  } catch {
    return -1;
  }
}

function clientCertCheck(host: Host): Check {
  return {
    id: 'etcd.client-cert-required',
    layer: 'etcd',
    title: 'clients without a certificate are refused',
    host: host.name,
    stage: 1,
    async run(ctx) {
      const unhealthy = lastHealth.get(ctx)?.unhealthy.find((u) => u.name === host.name);
      if (unhealthy) return notRun(`member ${host.name} is unhealthy`);
      const remote = remoteFor(ctx, host.name);
      const p = ctx.options.etcd;
      const target = `${host.address}:${p.clientPort}`;
      const base = ['timeout', '15', 'openssl', 's_client', '-connect', target, '-tls1_2', '-CAfile', p.caCert];
      const withCert = [...base, '-cert', p.adminCert, '-key', p.adminKey].map(quoteWord).join(' ');
      const without = base.map(quoteWord).join(' ');
      const script = [
        'command -v openssl >/dev/null || { echo "@@no-openssl"; exit 0; }',
        `${withCert} </dev/null >/tmp/kubi-verify-tls.$$ 2>&1; echo "@@with-cert-exit=$?"; grep -E 'Verify return code|alert|error' /tmp/kubi-verify-tls.$$ | tail -5`,
        `echo "@@without-cert"; ${without} </dev/null >/tmp/kubi-verify-tls.$$ 2>&1; echo "@@without-cert-exit=$?"; grep -E 'Verify return code|alert|error|errno' /tmp/kubi-verify-tls.$$ | tail -5`,
        'rm -f /tmp/kubi-verify-tls.$$',
      ].join('\n');
      const r = await remote.script(script, { sudo: true, allowFailure: true, label: 'verify: etcd refuses clients without a certificate', mutating: false });
      const ev = evidenceFrom(host.name, r, ctx.redact, { label: `openssl s_client -connect ${target} -tls1_2 with and without the admin certificate (script)` });
      if (r.stdout.includes('@@no-openssl')) return warning(`cannot test on ${host.name}: openssl is not installed`, [ev]);
      const m1 = r.stdout.match(/@@with-cert-exit=(\d+)\n([\s\S]*?)@@without-cert\n/);
      const m2 = r.stdout.match(/@@without-cert-exit=(\d+)\n([\s\S]*)$/);
      if (!m1 || !m2) return failed(`unexpected probe output on ${host.name}`, [ev]);
      const v = judgeClientCertProbe({ exitCode: Number(m1[1]), output: m1[2]! }, { exitCode: Number(m2[1]), output: m2[2]! });
      if (v.verdict === 'refused') return passed(v.detail);
      if (v.verdict === 'accepted') return failed(`${host.name}: ${v.detail} on ${target}`, [ev]);
      return warning(`${host.name}: cannot tell: ${v.detail}`, [ev]);
    },
  };
}

function expiryCheck(host: Host, warnDays: number): Check {
  return {
    id: 'etcd.cert-expiry',
    layer: 'etcd',
    title: `certificates valid for more than ${warnDays} days`,
    host: host.name,
    stage: 1,
    async run(ctx) {
      const remote = remoteFor(ctx, host.name);
      const dir = ctx.options.etcd.pkiDir;
      // the newline before each marker matters: PEM files need not end with one
      const script = `for f in ${quoteWord(dir)}/*.crt; do [ -f "$f" ] || continue; printf '\\n@@file %s\\n' "$f"; cat "$f"; done`;
      const r = await remote.script(script, { sudo: true, allowFailure: true, label: 'verify: read etcd certificates', mutating: false });
      const { certs, errors } = parsePemFiles(r.stdout);
      const v = judgeExpiry(certs, ctx.now(), ctx.options.expiryWarnDays);
      const ev: Evidence = { host: host.name, command: `cat ${dir}/*.crt`, ...(r.exitCode ? { exitCode: r.exitCode } : {}), output: [...v.lines, ...errors].join('\n') || r.stderr.trim() };
      if (certs.length === 0) return failed(`no certificates found in ${dir} on ${host.name}`, [ev]);
      if (errors.length > 0) return failed(`${host.name}: ${errors.join('; ')}`, [ev]);
      if (v.status === 'failed') return failed(`${host.name}: ${v.message}`, [ev]);
      if (v.status === 'warning') return warning(`${host.name}: ${v.message}`, [ev]);
      return passed(v.message);
    },
  };
}
