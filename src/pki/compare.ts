/**
 * The reissue rule for a leaf certificate, as a pure function of the spec, the existing PEMs,
 * the CA and the clock: a leaf is reissued only when it is missing, unreadable, does not match
 * its key, was not issued by the current CA, or its name, SANs, extended key usages or key
 * algorithm no longer match the spec, or it expires within the renew window.
 */
import { isIP } from 'node:net';
import { ekuNames, inspectCert, isIssuedBy, keyMatchesCert, type CertFacts, type LoadedCa } from './crypto.js';
import { EKU_OID, type LeafSpec } from './types.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export function normalizeIp(ip: string): string {
  if (isIP(ip) === 6) return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '');
  return ip;
}

function sanSet(dns: string[], ips: string[]): Set<string> {
  return new Set([...dns.map((d) => `DNS:${d.toLowerCase()}`), ...ips.map((i) => `IP:${normalizeIp(i)}`)]);
}

function diff(before: Set<string>, after: Set<string>): { added: string[]; removed: string[] } {
  return {
    added: [...after].filter((x) => !before.has(x)).sort(),
    removed: [...before].filter((x) => !after.has(x)).sort(),
  };
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export interface ExistingPems {
  certPem: string | null;
  keyPem: string | null;
}

/** Why the leaf must be (re)issued; [] when it is up to date. `['created']` when nothing exists. */
export function leafReissueReasons(spec: LeafSpec, existing: ExistingPems, ca: LoadedCa, now: Date): string[] {
  const { certPem, keyPem } = existing;
  if (certPem === null && keyPem === null) return ['created'];
  if (certPem === null) return ['certificate missing'];
  if (keyPem === null) return ['key missing'];
  let facts: CertFacts;
  try {
    facts = inspectCert(certPem);
  } catch {
    return ['unreadable certificate'];
  }
  const reasons: string[] = [];
  if (!keyMatchesCert(certPem, keyPem)) reasons.push('key does not match the certificate');
  if (!isIssuedBy(certPem, ca)) reasons.push('issued by another ca');
  if (facts.commonName !== spec.commonName) reasons.push(`common name changed (${facts.commonName ?? 'none'} → ${spec.commonName})`);

  const sans = diff(sanSet(facts.dnsNames, facts.ipAddresses), sanSet(spec.dnsNames, spec.ipAddresses));
  if (sans.added.length || sans.removed.length) {
    const parts: string[] = [];
    if (sans.added.length) parts.push(`added ${sans.added.join(', ')}`);
    if (sans.removed.length) parts.push(`removed ${sans.removed.join(', ')}`);
    reasons.push(`SANs changed: ${parts.join('; ')}`);
  }

  const wantEku = new Set(spec.extKeyUsages.map((u) => EKU_OID[u]));
  const haveEku = new Set(facts.extKeyUsages);
  const eku = diff(haveEku, wantEku);
  if (eku.added.length || eku.removed.length) {
    reasons.push(
      `extended key usages changed: ${ekuNames([...haveEku]).join(',') || 'none'} → ${spec.extKeyUsages.join(',')}`,
    );
  }
  if (facts.isCa) reasons.push('is a ca certificate');
  if (facts.keyAlgorithm !== spec.keyAlgorithm) {
    reasons.push(`key algorithm changed (${facts.keyAlgorithm ?? 'unsupported'} → ${spec.keyAlgorithm})`);
  }

  const msLeft = facts.notAfter.getTime() - now.getTime();
  if (msLeft <= 0) reasons.push(`expired on ${isoDay(facts.notAfter)}`);
  else if (msLeft <= spec.renewBeforeDays * DAY_MS) {
    reasons.push(`expires ${isoDay(facts.notAfter)} (within ${spec.renewBeforeDays} days)`);
  }
  return reasons;
}
