/** Public API of the PKI: pure planning of the etcd certificates, and the on-disk store. */
export type { CaSpec, CertReportEntry, CertSpec, EnsureAction, EnsureResult, ExtKeyUsageName, KeyAlgorithm, LeafSpec } from './types.js';
export { EKU_OID } from './types.js';
export {
  ETCD_ADMIN_CLIENT_ID,
  ETCD_CA_ID,
  ETCD_K3S_CLIENT_ID,
  PKI_DEFAULTS,
  etcdPeerCertId,
  etcdServerCertId,
  planEtcdCertificates,
  type PkiPlanOptions,
} from './plan.js';
export { leafReissueReasons } from './compare.js';
export { inspectCert, type CertFacts } from './crypto.js';
export {
  PKI_CERT_MODE,
  PKI_DIR_MODE,
  PKI_KEY_MODE,
  PkiError,
  PkiStore,
  formatCertReport,
  type PkiStoreOptions,
} from './store.js';
