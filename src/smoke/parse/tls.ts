/**
 * Pure verdicts on TLS evidence gathered on hosts:
 *  - `judgeClientCertProbe`: two `openssl s_client -tls1_2` runs against an etcd client URL, one with
 *    the admin certificate (the control: the member answers and its chain verifies) and one without
 *    (must be refused with a TLS alert). TLS 1.2 is forced because with TLS 1.3 the server checks the
 *    client certificate only after the handshake, so s_client would "succeed" without one.
 *  - `parsePemFiles` + `judgeExpiry`: certificates read on a host, parsed with @peculiar/x509.
 */
import { X509Certificate } from '@peculiar/x509';

export interface ProbeRun {
  exitCode: number;
  output: string;
}

export type ClientCertVerdict =
  | { verdict: 'refused'; detail: string }
  | { verdict: 'accepted'; detail: string }
  | { verdict: 'inconclusive'; detail: string };

/** TLS alerts a server sends when a client has no (acceptable) certificate: 42 bad_certificate, 116 certificate_required, 40 handshake_failure. */
const REFUSAL = /alert (bad certificate|certificate required|handshake failure)|SSL alert number (42|116|40)\b/i;

export function judgeClientCertProbe(withCert: ProbeRun, withoutCert: ProbeRun): ClientCertVerdict {
  const controlOk = withCert.exitCode === 0 && /Verify return code: 0 \(ok\)|Verification: OK/.test(withCert.output);
  if (!controlOk) {
    return { verdict: 'inconclusive', detail: `the member does not complete a TLS handshake with the admin certificate either: ${lastErrorLine(withCert.output)}` };
  }
  if (withoutCert.exitCode === 0) {
    return { verdict: 'accepted', detail: 'a client without a certificate completed the TLS handshake' };
  }
  const m = withoutCert.output.match(REFUSAL);
  if (m) return { verdict: 'refused', detail: `handshake refused without a client certificate (${m[0].toLowerCase()})` };
  return { verdict: 'inconclusive', detail: `the handshake without a certificate failed, but not with a certificate alert: ${lastErrorLine(withoutCert.output)}` };
}

function lastErrorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = [...lines].reverse().find((l) => /error|errno|refused|alert|unable|timed out|not found/i.test(l));
  return err ?? lines.at(-1) ?? '(no output)';
}

export interface CertInfo {
  path: string;
  subject: string;
  notAfter: Date;
}

/** Output of `for f in ...; do echo "@@file $f"; cat "$f"; done` -> one entry per certificate (first PEM block of each file). */
export function parsePemFiles(output: string): { certs: CertInfo[]; errors: string[] } {
  const certs: CertInfo[] = [];
  const errors: string[] = [];
  const parts = output.split(/^@@file /m).slice(1);
  for (const part of parts) {
    const nl = part.indexOf('\n');
    const path = (nl < 0 ? part : part.slice(0, nl)).trim();
    const body = nl < 0 ? '' : part.slice(nl + 1);
    const pem = body.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/);
    if (!pem) {
      errors.push(`${path}: no certificate found`);
      continue;
    }
    try {
      const c = new X509Certificate(pem[0]);
      certs.push({ path, subject: c.subject, notAfter: c.notAfter });
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  return { certs, errors };
}

export interface ExpiryVerdict {
  status: 'passed' | 'warning' | 'failed';
  message: string;
  /** one line per certificate, soonest first */
  lines: string[];
}

const DAY = 86_400_000;

export function judgeExpiry(certs: readonly CertInfo[], nowMs: number, warnDays: number): ExpiryVerdict {
  if (certs.length === 0) return { status: 'failed', message: 'no certificates found', lines: [] };
  const sorted = [...certs].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
  const days = (c: CertInfo): number => Math.floor((c.notAfter.getTime() - nowMs) / DAY);
  const lines = sorted.map((c) => `${c.path}: ${c.subject}, expires ${c.notAfter.toISOString().slice(0, 10)} (${days(c)} days)`);
  const expired = sorted.filter((c) => c.notAfter.getTime() <= nowMs);
  if (expired.length > 0) {
    return { status: 'failed', message: `expired: ${expired.map((c) => `${baseName(c.path)} (${c.notAfter.toISOString().slice(0, 10)})`).join(', ')}`, lines };
  }
  const soon = sorted.filter((c) => c.notAfter.getTime() - nowMs < warnDays * DAY);
  if (soon.length > 0) {
    return { status: 'warning', message: `expiring within ${warnDays} days: ${soon.map((c) => `${baseName(c.path)} in ${days(c)} days`).join(', ')}`, lines };
  }
  const first = sorted[0]!;
  return { status: 'passed', message: `${certs.length} certificates; the first to expire is ${baseName(first.path)} in ${days(first)} days`, lines };
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
