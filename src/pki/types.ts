/**
 * PKI data model: what a certificate should look like (CertSpec, planned purely from the
 * inventory) and what the store reports back (EnsureResult, CertReportEntry).
 */

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';
export type ExtKeyUsageName = 'serverAuth' | 'clientAuth';

export const EKU_OID: Record<ExtKeyUsageName, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

export interface CaSpec {
  kind: 'ca';
  /** file base name in the store: `<id>.crt` / `<id>.key` */
  id: string;
  commonName: string;
  validityDays: number;
  keyAlgorithm: KeyAlgorithm;
}

export interface LeafSpec {
  kind: 'server' | 'peer' | 'client';
  id: string;
  /** id of the CA spec that signs it */
  issuer: string;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  extKeyUsages: ExtKeyUsageName[];
  validityDays: number;
  /** reissue when the certificate expires within this many days */
  renewBeforeDays: number;
  keyAlgorithm: KeyAlgorithm;
  /** the inventory host the certificate belongs to (server and peer certificates) */
  host?: string;
}

export type CertSpec = CaSpec | LeafSpec;

export type EnsureAction = 'created' | 'reissued' | 'unchanged';

export interface EnsureResult {
  id: string;
  kind: CertSpec['kind'];
  certPem: string;
  /** the private key (PKCS#8 PEM): secret, never log it */
  keyPem: string;
  /** true when the certificate was (or, in plan mode, would be) written */
  changed: boolean;
  action: EnsureAction;
  /** why: "created", "SANs changed: added IP:10.0.0.5", "expires 2027-01-02 (within 30 days)", "up to date" */
  reason: string;
  certPath: string;
  keyPath: string;
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex (as openssl prints it) */
  fingerprint256: string;
  /** plan mode: nothing was written, the PEMs are what would be written */
  planned: boolean;
  /** non-fatal warnings (e.g. the CA itself expires soon) */
  warnings: string[];
}

export interface CertReportEntry {
  id: string;
  subject: string;
  issuer: string;
  isCa: boolean;
  sans: string[];
  notAfter: Date;
  daysLeft: number;
  status: 'ok' | 'renew-soon' | 'expired';
  fingerprint256: string;
  certPath: string;
}
