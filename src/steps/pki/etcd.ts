/**
 * The etcd PKI on the workstation: `pki.etcd` (a local step) ensures the CA and every etcd
 * certificate in `<stateDir>/pki` (never regenerating an existing CA; reissuing a leaf only when
 * its SANs, key usages or expiry window no longer fit). `etcdCertificates(cluster)` gives the
 * host steps the certificates of this run: in plan mode what WOULD be issued (nothing written),
 * in apply mode what is on disk (ensured first, so `--from` past pki.etcd still works).
 */
import type { Change, ClusterContext, LocalStep } from '../../engine/types.js';
import { PkiStore, planEtcdCertificates, type EnsureResult } from '../../pki/index.js';

/** Per run (a run's ClusterContext object): the certificates, by id. */
const memo = new WeakMap<ClusterContext, Promise<Map<string, EnsureResult>>>();

function toMap(results: EnsureResult[]): Map<string, EnsureResult> {
  return new Map(results.map((r) => [r.id, r]));
}

async function ensureAll(cluster: ClusterContext, planOnly: boolean): Promise<EnsureResult[]> {
  const store = new PkiStore(cluster.stateDir, { planOnly, now: () => cluster.now() });
  return store.ensureAll(planEtcdCertificates(cluster.inventory));
}

/** The etcd certificates of this run (see the file header). Memoized per run. */
export function etcdCertificates(cluster: ClusterContext): Promise<Map<string, EnsureResult>> {
  let p = memo.get(cluster);
  if (!p) {
    p = ensureAll(cluster, cluster.mode === 'plan').then(toMap);
    memo.set(cluster, p);
    p.catch(() => memo.delete(cluster));
  }
  return p;
}

/** One certificate of this run, or a clear internal error. */
export async function etcdCertificate(cluster: ClusterContext, id: string): Promise<EnsureResult> {
  const r = (await etcdCertificates(cluster)).get(id);
  if (!r) throw new Error(`certificate ${id} is not planned for this inventory`);
  return r;
}

function describe(r: EnsureResult): Change {
  const verb = r.action === 'created' ? 'issue' : 'reissue';
  return {
    kind: 'action',
    title: `${verb} ${r.kind === 'ca' ? 'CA' : r.kind} certificate ${r.id}${r.action === 'reissued' ? ` (${r.reason})` : ''}`,
    detail: [`pki/${r.id}.crt (0644) and pki/${r.id}.key (0600)`, `valid until ${r.notAfter.toISOString().slice(0, 10)}`, ...r.warnings],
  };
}

export const pkiEtcd: LocalStep<EnsureResult[]> = {
  id: 'pki.etcd',
  title: 'Ensure the etcd certificates in the state directory',
  local: true,
  async check(ctx) {
    // always a dry computation: check is read-only
    const results = await ensureAll(ctx.cluster, true);
    for (const r of results) for (const w of r.warnings) ctx.report(w);
    if (ctx.cluster.mode === 'plan' && !memo.has(ctx.cluster)) memo.set(ctx.cluster, Promise.resolve(toMap(results)));
    return results;
  },
  plan(results) {
    return results.filter((r) => r.changed).map(describe);
  },
  async apply(_changes, ctx) {
    const results = await ensureAll(ctx.cluster, false);
    memo.set(ctx.cluster, Promise.resolve(toMap(results)));
    const issued = results.filter((r) => r.changed).map((r) => r.id);
    if (issued.length > 0) ctx.report(`issued ${issued.join(', ')}`);
  },
};
