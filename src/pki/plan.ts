/**
 * Pure certificate planning for the external etcd cluster: which certificates exist, their
 * names, SANs, extended key usages and validity. No crypto, no I/O.
 *
 * - one etcd CA;
 * - per etcd member a server certificate (CN = host name; SANs host name, localhost, the host's
 *   address, 127.0.0.1; serverAuth + clientAuth, because etcd's own gRPC gateway dials etcd
 *   with it as a client) and a peer certificate (SANs host name + address; serverAuth +
 *   clientAuth, used for both ends of peer traffic);
 * - `etcd-client-k3s` (clientAuth) for the k3s servers' datastore connection;
 * - `etcd-admin` (clientAuth) for etcdctl.
 */
import { isIP } from 'node:net';
import type { Inventory } from '../inventory/schema.js';
import type { CaSpec, CertSpec, KeyAlgorithm, LeafSpec } from './types.js';

export interface PkiPlanOptions {
  /** default 3650 (10 years) */
  caValidityDays?: number;
  /** default 365 */
  leafValidityDays?: number;
  /** default 30 */
  renewBeforeDays?: number;
  /** default ecdsa-p256 */
  keyAlgorithm?: KeyAlgorithm;
  /** extra names (DNS or IP) on every etcd server certificate, e.g. a DNS name of the etcd endpoint */
  extraServerSans?: string[];
}

export const PKI_DEFAULTS = {
  caValidityDays: 3650,
  leafValidityDays: 365,
  renewBeforeDays: 30,
  keyAlgorithm: 'ecdsa-p256' as KeyAlgorithm,
};

export const ETCD_CA_ID = 'etcd-ca';
export const ETCD_K3S_CLIENT_ID = 'etcd-client-k3s';
export const ETCD_ADMIN_CLIENT_ID = 'etcd-admin';
export const etcdServerCertId = (host: string): string => `etcd-server-${host}`;
export const etcdPeerCertId = (host: string): string => `etcd-peer-${host}`;

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

function splitNames(names: string[]): { dns: string[]; ips: string[] } {
  return {
    dns: names.filter((n) => isIP(n) === 0),
    ips: names.filter((n) => isIP(n) !== 0),
  };
}

/** Every certificate the etcd cluster needs, the CA first. Deterministic for a given inventory. */
export function planEtcdCertificates(
  inventory: Pick<Inventory, 'cluster' | 'hosts'>,
  opts: PkiPlanOptions = {},
): CertSpec[] {
  const o = { ...PKI_DEFAULTS, ...opts };
  const ca: CaSpec = {
    kind: 'ca',
    id: ETCD_CA_ID,
    commonName: `etcd-ca-${inventory.cluster.name}`,
    validityDays: o.caValidityDays,
    keyAlgorithm: o.keyAlgorithm,
  };
  const leafBase = {
    issuer: ca.id,
    validityDays: o.leafValidityDays,
    renewBeforeDays: o.renewBeforeDays,
    keyAlgorithm: o.keyAlgorithm,
  };
  const extra = splitNames(opts.extraServerSans ?? []);
  const specs: CertSpec[] = [ca];
  for (const host of inventory.hosts.filter((h) => h.roles.includes('etcd'))) {
    const server: LeafSpec = {
      ...leafBase,
      kind: 'server',
      id: etcdServerCertId(host.name),
      host: host.name,
      commonName: host.name,
      dnsNames: uniq([host.name, 'localhost', ...extra.dns]),
      ipAddresses: uniq([host.address, '127.0.0.1', ...extra.ips]),
      extKeyUsages: ['serverAuth', 'clientAuth'],
    };
    const peer: LeafSpec = {
      ...leafBase,
      kind: 'peer',
      id: etcdPeerCertId(host.name),
      host: host.name,
      commonName: host.name,
      dnsNames: [host.name],
      ipAddresses: [host.address],
      extKeyUsages: ['serverAuth', 'clientAuth'],
    };
    specs.push(server, peer);
  }
  for (const id of [ETCD_K3S_CLIENT_ID, ETCD_ADMIN_CLIENT_ID]) {
    specs.push({ ...leafBase, kind: 'client', id, commonName: id, dnsNames: [], ipAddresses: [], extKeyUsages: ['clientAuth'] });
  }
  return specs;
}
