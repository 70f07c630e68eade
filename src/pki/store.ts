/**
 * PkiStore: the cluster's certificates under `<stateDir>/pki/` (directory 0700, keys 0600,
 * certificates 0644, every file written atomically).
 *
 * - A CA is NEVER regenerated once it exists. A CA certificate without its key (or the other
 *   way round) is a hard error with a hint, never a silent new CA.
 * - A leaf is (re)issued only by the rule in compare.ts (SANs, EKUs, issuer, expiry window...).
 * - `planOnly`: nothing is written; results carry the PEMs that would be written (kept in
 *   memory for the life of the store, so planned leaves chain to the planned CA).
 * - Calls are serialised: steps on several hosts may ensure the same certificate at once.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KubiError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fs-atomic.js';
import { leafReissueReasons, isoDay } from './compare.js';
import { createCa, inspectCert, issueLeaf, loadCa, type LoadedCa } from './crypto.js';
import type { CaSpec, CertReportEntry, CertSpec, EnsureResult, LeafSpec } from './types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const PKI_DIR_MODE = 0o700;
export const PKI_KEY_MODE = 0o600;
export const PKI_CERT_MODE = 0o644;

export class PkiError extends KubiError {
  constructor(code: string, message: string, hint: string, cause?: unknown) {
    super(code, message, { hint, ...(cause === undefined ? {} : { cause }) });
    this.name = 'PkiError';
  }
}

export interface PkiStoreOptions {
  /** compute what would be issued; write nothing */
  planOnly?: boolean;
  /** injected clock (tests) */
  now?: () => Date;
  /** report() marks certificates expiring within this many days as renew-soon; also the CA warning (default 30) */
  renewBeforeDays?: number;
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export class PkiStore {
  /** `<stateDir>/pki` */
  readonly dir: string;
  readonly planOnly: boolean;
  private readonly now: () => Date;
  private readonly renewBeforeDays: number;
  private readonly cas = new Map<string, LoadedCa>();
  private readonly planned = new Map<string, EnsureResult>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string, opts: PkiStoreOptions = {}) {
    this.dir = path.join(stateDir, 'pki');
    this.planOnly = opts.planOnly ?? false;
    this.now = opts.now ?? (() => new Date());
    this.renewBeforeDays = opts.renewBeforeDays ?? 30;
  }

  certPath(id: string): string {
    return path.join(this.dir, `${checkId(id)}.crt`);
  }

  keyPath(id: string): string {
    return path.join(this.dir, `${checkId(id)}.key`);
  }

  /** Ensure a CA (never regenerates an existing one) or a leaf (reissues only when needed). */
  ensure(spec: CertSpec): Promise<EnsureResult> {
    const run = () => (spec.kind === 'ca' ? this.ensureCaNow(spec) : this.ensureLeafNow(spec));
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  ensureCa(spec: CaSpec): Promise<EnsureResult> {
    return this.ensure(spec);
  }

  /** Ensure every spec in order (CAs must come before the leaves they sign, as planEtcdCertificates returns them). */
  async ensureAll(specs: CertSpec[]): Promise<EnsureResult[]> {
    const results: EnsureResult[] = [];
    for (const spec of specs) results.push(await this.ensure(spec));
    return results;
  }

  /** Every certificate in the store with its expiry date (from disk; plan-mode results are not included). */
  async report(): Promise<CertReportEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const now = this.now().getTime();
    const entries: CertReportEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.crt')).sort()) {
      const certPath = path.join(this.dir, name);
      const pem = await fs.readFile(certPath, 'utf8');
      let facts;
      try {
        facts = inspectCert(pem);
      } catch {
        continue;
      }
      const msLeft = facts.notAfter.getTime() - now;
      entries.push({
        id: name.slice(0, -'.crt'.length),
        subject: facts.subject,
        issuer: facts.issuer,
        isCa: facts.isCa,
        sans: [...facts.dnsNames.map((d) => `DNS:${d}`), ...facts.ipAddresses.map((i) => `IP:${i}`)],
        notAfter: facts.notAfter,
        daysLeft: Math.floor(msLeft / DAY_MS),
        status: msLeft <= 0 ? 'expired' : msLeft <= this.renewBeforeDays * DAY_MS ? 'renew-soon' : 'ok',
        fingerprint256: facts.fingerprint256,
        certPath,
      });
    }
    return entries;
  }

  private async ensureCaNow(spec: CaSpec): Promise<EnsureResult> {
    const certPath = this.certPath(spec.id);
    const keyPath = this.keyPath(spec.id);
    const planned = this.planned.get(plannedKey(spec));
    if (planned) return planned;

    const [certPem, keyPem] = await Promise.all([readOrNull(certPath), readOrNull(keyPath)]);
    if (certPem === null && keyPem === null) {
      const { issued, ca } = await createCa(spec, this.now());
      this.cas.set(spec.id, ca);
      if (!this.planOnly) {
        await ensureDir(this.dir, PKI_DIR_MODE);
        await writeFileAtomic(keyPath, issued.keyPem, PKI_KEY_MODE);
        await writeFileAtomic(certPath, issued.certPem, PKI_CERT_MODE);
      }
      const result = this.result(spec, issued.certPem, issued.keyPem, 'created', 'created', []);
      if (this.planOnly) this.planned.set(plannedKey(spec), result);
      return result;
    }
    if (keyPem === null) {
      throw new PkiError(
        'pki-ca-key-missing',
        `the ca certificate ${certPath} exists but its key ${keyPath} is missing`,
        `restore ${keyPath} from your backup (mode 0600). kubi-provision never replaces a ca: every etcd certificate chains to it. ` +
          `To really start a new ca, delete ${certPath} as well; every member then gets new certificates and needs a restart`,
      );
    }
    if (certPem === null) {
      throw new PkiError(
        'pki-ca-cert-missing',
        `the ca key ${keyPath} exists but its certificate ${certPath} is missing`,
        `restore ${certPath} from your backup (or copy ca.crt from an etcd member). To really start a new ca, delete ${keyPath} as well`,
      );
    }
    const ca = await this.loadCaPems(spec.id, certPem, keyPem);
    if (!this.planOnly) await this.tightenModes(keyPath);
    const warnings: string[] = [];
    const msLeft = ca.cert.validTo ? new Date(ca.cert.validTo).getTime() - this.now().getTime() : Infinity;
    if (msLeft <= this.renewBeforeDays * DAY_MS) {
      warnings.push(
        `the ca ${spec.id} ${msLeft <= 0 ? 'expired' : 'expires'} on ${isoDay(new Date(ca.cert.validTo))}: it is never renewed automatically`,
      );
    }
    return this.result(spec, certPem, keyPem, 'unchanged', 'up to date', warnings);
  }

  private async ensureLeafNow(spec: LeafSpec): Promise<EnsureResult> {
    const certPath = this.certPath(spec.id);
    const keyPath = this.keyPath(spec.id);
    const planned = this.planned.get(plannedKey(spec));
    if (planned) return planned;

    const ca = await this.caFor(spec);
    const [certPem, keyPem] = await Promise.all([readOrNull(certPath), readOrNull(keyPath)]);
    const now = this.now();
    const reasons = leafReissueReasons(spec, { certPem, keyPem }, ca, now);
    if (reasons.length === 0) {
      if (!this.planOnly) await this.tightenModes(keyPath);
      return this.result(spec, certPem as string, keyPem as string, 'unchanged', 'up to date', []);
    }
    const issued = await issueLeaf(spec, ca, now);
    if (!this.planOnly) {
      await ensureDir(this.dir, PKI_DIR_MODE);
      await writeFileAtomic(keyPath, issued.keyPem, PKI_KEY_MODE);
      await writeFileAtomic(certPath, issued.certPem, PKI_CERT_MODE);
    }
    const action = reasons[0] === 'created' ? 'created' : 'reissued';
    const result = this.result(spec, issued.certPem, issued.keyPem, action, reasons.join('; '), []);
    if (this.planOnly) this.planned.set(plannedKey(spec), result);
    return result;
  }

  /** The signing CA of a leaf: in memory (ensured or planned in this run) or loaded from disk. */
  private async caFor(spec: LeafSpec): Promise<LoadedCa> {
    const known = this.cas.get(spec.issuer);
    if (known) return known;
    const certPem = await readOrNull(this.certPath(spec.issuer));
    const keyPem = await readOrNull(this.keyPath(spec.issuer));
    if (certPem === null || keyPem === null) {
      throw new PkiError(
        'pki-ca-missing',
        `cannot issue ${spec.id}: its ca ${spec.issuer} is not in ${this.dir}`,
        'ensure the ca first (planEtcdCertificates lists it before the leaves)',
      );
    }
    return this.loadCaPems(spec.issuer, certPem, keyPem);
  }

  private async loadCaPems(id: string, certPem: string, keyPem: string): Promise<LoadedCa> {
    const known = this.cas.get(id);
    if (known && known.certPem === certPem && known.keyPem === keyPem) return known;
    let ca: LoadedCa;
    try {
      ca = await loadCa(certPem, keyPem);
    } catch (e) {
      throw new PkiError(
        'pki-ca-invalid',
        `the ca ${id} in ${this.dir} cannot be used: ${e instanceof Error ? e.message : String(e)}`,
        `restore ${this.certPath(id)} and ${this.keyPath(id)} from the same backup`,
        e,
      );
    }
    if (!ca.cert.ca) {
      throw new PkiError('pki-ca-invalid', `${this.certPath(id)} is not a ca certificate`, 'restore the ca files from your backup');
    }
    this.cas.set(id, ca);
    return ca;
  }

  private async tightenModes(keyPath: string): Promise<void> {
    const st = await fs.stat(keyPath);
    if ((st.mode & 0o777) !== PKI_KEY_MODE) await fs.chmod(keyPath, PKI_KEY_MODE);
    await ensureDir(this.dir, PKI_DIR_MODE);
  }

  private result(
    spec: CertSpec,
    certPem: string,
    keyPem: string,
    action: EnsureResult['action'],
    reason: string,
    warnings: string[],
  ): EnsureResult {
    const facts = inspectCert(certPem);
    return {
      id: spec.id,
      kind: spec.kind,
      certPem,
      keyPem,
      changed: action !== 'unchanged',
      action,
      reason,
      certPath: this.certPath(spec.id),
      keyPath: this.keyPath(spec.id),
      notAfter: facts.notAfter,
      fingerprint256: facts.fingerprint256,
      planned: this.planOnly && action !== 'unchanged',
      warnings,
    };
  }
}

/** Plan-mode memo key: the same spec planned twice in one run returns the same planned certificate. */
function plannedKey(spec: CertSpec): string {
  return JSON.stringify(spec);
}

function checkId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new PkiError('pki-bad-id', `"${id}" cannot name a certificate file`, 'use letters, digits, dot, dash and underscore only');
  }
  return id;
}

/** Lines for the CLI: one per certificate, with its expiry. */
export function formatCertReport(entries: CertReportEntry[]): string[] {
  const width = Math.max(0, ...entries.map((e) => e.id.length));
  return entries.map(
    (e) => `${e.id.padEnd(width)}  expires ${isoDay(e.notAfter)} (${e.daysLeft} days)  ${e.status}${e.isCa ? '  ca' : ''}`,
  );
}
