/**
 * What an etcd member should look like, shared by every etcd step so they agree: binaries (from
 * the verified artifact), certificates (from the run's PKI), the rendered unit, environment file
 * and etcdctl profile, the directories, and the fingerprint of everything the running process
 * depends on (binary, unit, environment, CA, server and peer certificates and keys). The
 * fingerprint is recorded on the host when etcd is (re)started; a different one means "restart".
 */
import type { ClusterContext, StepContext } from '../../engine/types.js';
import { ETCD_ADMIN_CLIENT_ID, ETCD_CA_ID, etcdPeerCertId, etcdServerCertId } from '../../pki/index.js';
import { ETCD_PKI } from '../../render/cluster.js';
import { ETCD_PATHS, etcdFiles } from '../../render/etcd.js';
import { fingerprintOf, fingerprintPathOf, type DesiredDir, type DesiredFile } from '../lib/index.js';
import { etcdBinaryFiles, type DesiredBinary } from '../artifacts/etcd.js';
import { etcdCertificates } from '../pki/etcd.js';
import { ETCD_UNIT } from './health.js';

export const ETCD_FINGERPRINT_PATH = fingerprintPathOf({ unit: ETCD_UNIT });

export interface EtcdDesired {
  binaries: DesiredBinary[];
  /** plan mode: why the binaries are not known yet (null when they are) */
  binariesPending: string | null;
  certificates: DesiredFile[];
  config: DesiredFile[];
  dirs: DesiredDir[];
  /** sha256 over the inputs of the running process */
  fingerprint: string;
}

const root = { owner: 'root', group: 'root' } as const;

/** The certificate files of one member (keys 0600, secret). */
export async function etcdCertificateFiles(cluster: ClusterContext, host: string): Promise<DesiredFile[]> {
  const certs = await etcdCertificates(cluster);
  const get = (id: string) => {
    const r = certs.get(id);
    if (!r) throw new Error(`certificate ${id} is missing from the plan of the etcd PKI`);
    return r;
  };
  const ca = get(ETCD_CA_ID);
  const server = get(etcdServerCertId(host));
  const peer = get(etcdPeerCertId(host));
  const admin = get(ETCD_ADMIN_CLIENT_ID);
  const cert = (path: string, pem: string): DesiredFile => ({ path, content: pem, mode: 0o644, ...root });
  const key = (path: string, pem: string): DesiredFile => ({ path, content: pem, mode: 0o600, secret: true, ...root });
  return [
    cert(ETCD_PKI.ca, ca.certPem),
    cert(ETCD_PKI.serverCert, server.certPem),
    key(ETCD_PKI.serverKey, server.keyPem),
    cert(ETCD_PKI.peerCert, peer.certPem),
    key(ETCD_PKI.peerKey, peer.keyPem),
    cert(ETCD_PKI.adminCert, admin.certPem),
    key(ETCD_PKI.adminKey, admin.keyPem),
  ];
}

/** Unit, environment file and etcdctl profile (initial cluster state `new`: see the etcd.start notes). */
export function etcdConfigFiles(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): DesiredFile[] {
  return etcdFiles(ctx.cluster.inventory, ctx.host, { initialClusterState: 'new', arch: ctx.facts.arch }).map((f) => ({
    path: f.path,
    content: f.content,
    mode: f.mode,
    ...root,
  }));
}

export function etcdDirs(cluster: ClusterContext): DesiredDir[] {
  return [
    { path: '/etc/etcd', mode: 0o755, ...root },
    { path: ETCD_PKI.dir, mode: 0o700, ...root },
    { path: cluster.inventory.etcd.dataDir, mode: 0o700, ...root },
  ];
}

/** Paths whose content the running etcd depends on (the binary enters by its verified sha256). */
const PROCESS_INPUTS = new Set<string>([
  ETCD_PATHS.unit,
  ETCD_PATHS.env,
  ETCD_PKI.ca,
  ETCD_PKI.serverCert,
  ETCD_PKI.serverKey,
  ETCD_PKI.peerCert,
  ETCD_PKI.peerKey,
]);

export function etcdFingerprint(files: readonly DesiredFile[], extra: readonly string[] = []): string {
  const inputs = files.filter((f) => PROCESS_INPUTS.has(f.path));
  return fingerprintOf({ unit: ETCD_UNIT, inputs: { files: inputs, extra } }) ?? '';
}

const memo = new WeakMap<ClusterContext, Map<string, Promise<EtcdDesired>>>();

/** Everything one member should have; memoized per run and host. */
export function etcdDesired(ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): Promise<EtcdDesired> {
  let perHost = memo.get(ctx.cluster);
  if (!perHost) {
    perHost = new Map();
    memo.set(ctx.cluster, perHost);
  }
  let p = perHost.get(ctx.host.name);
  if (!p) {
    p = (async () => {
      const bin = await etcdBinaryFiles(ctx);
      const certificates = await etcdCertificateFiles(ctx.cluster, ctx.host.name);
      const config = etcdConfigFiles(ctx);
      // a binary not known yet (plan mode, not downloaded) can never match a recorded fingerprint
      const extra = bin.pending
        ? [`binary pending: ${bin.pending}`]
        : bin.files.filter((b) => b.path === ETCD_PATHS.binary).map((b) => `binary ${b.path} ${b.sha256} ${(b.mode & 0o7777).toString(8)}`);
      return {
        binaries: bin.files,
        binariesPending: bin.pending,
        certificates,
        config,
        dirs: etcdDirs(ctx.cluster),
        fingerprint: etcdFingerprint([...certificates, ...config], extra),
      };
    })();
    perHost.set(ctx.host.name, p);
    p.catch(() => perHost!.delete(ctx.host.name));
  }
  return p;
}
