/**
 * PkiStore on a real temp state directory, with results checked by the real openssl CLI:
 * chain, SANs, key usages, EKUs, file modes, CA never regenerated, reissue rules, plan mode.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PkiStore, formatCertReport, planEtcdCertificates, type CaSpec, type LeafSpec } from '../../src/pki/index.js';
import { extensionValue, inventory, openssl, opensslText, tempDir } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-01-10T12:00:00Z');

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const store = (opts: { now?: Date; planOnly?: boolean } = {}) =>
  new PkiStore(tmp.dir, { now: () => opts.now ?? T0, ...(opts.planOnly ? { planOnly: true } : {}) });
const mode = (p: string) => statSync(p).mode & 0o777;

describe('a fresh store', () => {
  it('issues the whole etcd PKI: openssl verifies the chain, SANs, key usages and EKUs', async () => {
    const specs = planEtcdCertificates(inventory());
    const results = await store().ensureAll(specs);
    expect(results.map((r) => [r.id, r.action])).toEqual(specs.map((s) => [s.id, 'created']));
    const pki = path.join(tmp.dir, 'pki');
    const ca = path.join(pki, 'etcd-ca.crt');

    const caText = opensslText(ca);
    expect(caText).toContain('CA:TRUE');
    expect(extensionValue(caText, 'X509v3 Key Usage')).toBe('Digital Signature, Certificate Sign, CRL Sign');
    expect(caText).toMatch(/Subject: CN ?= ?etcd-ca-lab/);
    expect(caText).toContain('ASN1 OID: prime256v1');

    for (const r of results.slice(1)) {
      const v = openssl(['verify', '-CAfile', ca, r.certPath]);
      expect(v.out.trim()).toBe(`${r.certPath}: OK`);
      expect(v.status).toBe(0);
    }

    const server = opensslText(path.join(pki, 'etcd-server-node1.crt'));
    expect(extensionValue(server, 'X509v3 Subject Alternative Name')).toBe(
      'DNS:node1, DNS:localhost, IP Address:10.77.0.11, IP Address:127.0.0.1',
    );
    expect(extensionValue(server, 'X509v3 Extended Key Usage')).toBe(
      'TLS Web Server Authentication, TLS Web Client Authentication',
    );
    expect(extensionValue(server, 'X509v3 Key Usage')).toBe('Digital Signature');
    expect(server).toContain('CA:FALSE');
    expect(server).toMatch(/Subject: CN ?= ?node1/);
    expect(server).toMatch(/Issuer: CN ?= ?etcd-ca-lab/);

    const peer = opensslText(path.join(pki, 'etcd-peer-node2.crt'));
    expect(extensionValue(peer, 'X509v3 Subject Alternative Name')).toBe('DNS:node2, IP Address:10.77.0.12');
    expect(extensionValue(peer, 'X509v3 Extended Key Usage')).toBe('TLS Web Server Authentication, TLS Web Client Authentication');

    const admin = path.join(pki, 'etcd-admin.crt');
    const adminText = opensslText(admin);
    expect(extensionValue(adminText, 'X509v3 Extended Key Usage')).toBe('TLS Web Client Authentication');
    expect(extensionValue(adminText, 'X509v3 Subject Alternative Name')).toBeNull();
    // the EKUs as openssl's purpose checks see them
    expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslclient', admin]).status).toBe(0);
    expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslserver', admin]).status).not.toBe(0);
    const k3s = path.join(pki, 'etcd-client-k3s.crt');
    expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslclient', k3s]).status).toBe(0);
    for (const p of ['etcd-server-node3.crt', 'etcd-peer-node3.crt']) {
      expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslserver', path.join(pki, p)]).status).toBe(0);
      expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslclient', path.join(pki, p)]).status).toBe(0);
    }

    // each key belongs to its certificate (public keys compared by openssl)
    for (const r of results) {
      const fromCert = openssl(['x509', '-in', r.certPath, '-noout', '-pubkey']).out;
      const fromKey = openssl(['pkey', '-in', r.keyPath, '-pubout']).out;
      expect(fromKey).toBe(fromCert);
      expect(r.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
    }
  });

  it('validity: CA 10 years, leaves 1 year', async () => {
    const [ca, leaf] = await store().ensureAll(planEtcdCertificates(inventory()).slice(0, 2));
    expect(Math.round((ca!.notAfter.getTime() - T0.getTime()) / DAY)).toBe(3650);
    expect(Math.round((leaf!.notAfter.getTime() - T0.getTime()) / DAY)).toBe(365);
    expect(openssl(['x509', '-in', leaf!.certPath, '-noout', '-enddate']).out.trim()).toBe('notAfter=Jan 10 12:00:00 2027 GMT');
  });

  it('file modes: dir 0700, keys 0600, certificates 0644 (whatever the umask)', async () => {
    const old = process.umask(0o000);
    try {
      await store().ensureAll(planEtcdCertificates(inventory()));
    } finally {
      process.umask(old);
    }
    const pki = path.join(tmp.dir, 'pki');
    expect(mode(pki)).toBe(0o700);
    expect(mode(path.join(pki, 'etcd-ca.key'))).toBe(0o600);
    expect(mode(path.join(pki, 'etcd-server-node1.key'))).toBe(0o600);
    expect(mode(path.join(pki, 'etcd-admin.key'))).toBe(0o600);
    expect(mode(path.join(pki, 'etcd-ca.crt'))).toBe(0o644);
    expect(mode(path.join(pki, 'etcd-peer-node2.crt'))).toBe(0o644);
  });

  it('RSA 2048 when asked: rsaEncryption, digitalSignature + keyEncipherment', async () => {
    const specs = planEtcdCertificates(inventory(), { keyAlgorithm: 'rsa-2048' }).slice(0, 2);
    const [, leaf] = await store().ensureAll(specs);
    const text = opensslText(leaf!.certPath);
    expect(text).toContain('rsaEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(extensionValue(text, 'X509v3 Key Usage')).toBe('Digital Signature, Key Encipherment');
    expect(openssl(['verify', '-CAfile', path.join(tmp.dir, 'pki', 'etcd-ca.crt'), leaf!.certPath]).status).toBe(0);
  });
});

describe('convergence and reissue rules', () => {
  it('a second run (new store object) changes nothing: same CA fingerprint, same leaves', async () => {
    const specs = planEtcdCertificates(inventory());
    const first = await store().ensureAll(specs);
    const second = await store({ now: new Date(T0.getTime() + 100 * DAY) }).ensureAll(specs);
    expect(second.every((r) => !r.changed && r.action === 'unchanged' && r.reason === 'up to date')).toBe(true);
    expect(second.map((r) => r.fingerprint256)).toEqual(first.map((r) => r.fingerprint256));
    const caCli = openssl(['x509', '-in', first[0]!.certPath, '-noout', '-fingerprint', '-sha256']).out;
    expect(caCli.trim()).toBe(`sha256 Fingerprint=${first[0]!.fingerprint256}`);
  });

  it('a new address reissues only that host’s server and peer certificates', async () => {
    await store().ensureAll(planEtcdCertificates(inventory()));
    const moved = inventory({
      hosts: [
        { name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'] },
        { name: 'node2', address: '10.77.0.12', roles: ['etcd', 'server'] },
        { name: 'node3', address: '10.77.0.23', roles: ['etcd', 'server'] },
      ],
    });
    const results = await store().ensureAll(planEtcdCertificates(moved));
    const changed = results.filter((r) => r.changed);
    expect(changed.map((r) => r.id)).toEqual(['etcd-server-node3', 'etcd-peer-node3']);
    expect(changed.every((r) => r.action === 'reissued')).toBe(true);
    expect(changed[0]!.reason).toBe('SANs changed: added IP:10.77.0.23; removed IP:10.77.0.13');
    const text = opensslText(changed[0]!.certPath);
    expect(extensionValue(text, 'X509v3 Subject Alternative Name')).toContain('IP Address:10.77.0.23');
    expect(openssl(['verify', '-CAfile', results[0]!.certPath, changed[1]!.certPath]).status).toBe(0);
  });

  it('an EKU change reissues', async () => {
    const [ca, admin] = [planEtcdCertificates(inventory())[0] as CaSpec, planEtcdCertificates(inventory())[8] as LeafSpec];
    await store().ensureAll([ca, admin]);
    const r = await store().ensure({ ...admin, extKeyUsages: ['clientAuth', 'serverAuth'] });
    expect(r.action).toBe('reissued');
    expect(r.reason).toBe('extended key usages changed: clientAuth → clientAuth,serverAuth');
  });

  it('expiry window: unchanged at 300 days, reissued at 340 days (within 30 days of the 1-year expiry)', async () => {
    const specs = planEtcdCertificates(inventory());
    const first = await store().ensureAll(specs);
    const at300 = await store({ now: new Date(T0.getTime() + 300 * DAY) }).ensureAll(specs);
    expect(at300.filter((r) => r.changed)).toEqual([]);
    const later = new Date(T0.getTime() + 340 * DAY);
    const at340 = await store({ now: later }).ensureAll(specs);
    expect(at340[0]!.changed).toBe(false);
    expect(at340[0]!.fingerprint256).toBe(first[0]!.fingerprint256);
    const leaves = at340.slice(1);
    expect(leaves.every((r) => r.action === 'reissued')).toBe(true);
    expect(leaves[0]!.reason).toBe('expires 2027-01-10 (within 30 days)');
    expect(Math.round((leaves[0]!.notAfter.getTime() - later.getTime()) / DAY)).toBe(365);
  });

  it('a key that does not match its certificate reissues', async () => {
    const specs = planEtcdCertificates(inventory()).slice(0, 3);
    const [, server, peer] = await store().ensureAll(specs);
    writeFileSync(server!.keyPath, readFileSync(peer!.keyPath));
    const r = await store().ensure(specs[1]!);
    expect(r.reason).toBe('key does not match the certificate');
    expect(openssl(['pkey', '-in', r.keyPath, '-pubout']).out).toBe(
      openssl(['x509', '-in', r.certPath, '-noout', '-pubkey']).out,
    );
  });

  it('a leaf from another CA is reissued', async () => {
    const specs = planEtcdCertificates(inventory()).slice(0, 2);
    await store().ensureAll(specs);
    const other = tempDir();
    try {
      const foreign = await new PkiStore(other.dir, { now: () => T0 }).ensureAll(specs);
      writeFileSync(path.join(tmp.dir, 'pki', 'etcd-server-node1.crt'), foreign[1]!.certPem);
      writeFileSync(path.join(tmp.dir, 'pki', 'etcd-server-node1.key'), foreign[1]!.keyPem);
    } finally {
      other.cleanup();
    }
    const r = await store().ensure(specs[1]!);
    expect(r.reason).toBe('issued by another ca');
    expect(openssl(['verify', '-CAfile', path.join(tmp.dir, 'pki', 'etcd-ca.crt'), r.certPath]).status).toBe(0);
  });

  it('concurrent ensures of the same certificate issue it once', async () => {
    const specs = planEtcdCertificates(inventory());
    const s = store();
    await s.ensure(specs[0]!);
    const [a, b] = await Promise.all([s.ensure(specs[1]!), s.ensure(specs[1]!)]);
    expect([a!.action, b!.action].sort()).toEqual(['created', 'unchanged']);
    expect(a!.fingerprint256).toBe(b!.fingerprint256);
  });
});

describe('the CA is never regenerated', () => {
  it('CA key missing but certificate present: hard error with a hint, nothing written', async () => {
    const specs = planEtcdCertificates(inventory());
    const [ca] = await store().ensureAll(specs);
    rmSync(ca!.keyPath);
    const before = readFileSync(ca!.certPath, 'utf8');
    await expect(store().ensureAll(specs)).rejects.toMatchObject({
      code: 'pki-ca-key-missing',
      hint: expect.stringContaining('restore'),
    });
    expect(existsSync(ca!.keyPath)).toBe(false);
    expect(readFileSync(ca!.certPath, 'utf8')).toBe(before);
    // a leaf cannot be issued without it either
    await expect(store().ensure(specs[1]!)).rejects.toMatchObject({ code: 'pki-ca-missing' });
  });

  it('CA certificate missing but key present: hard error', async () => {
    const [ca] = await store().ensureAll(planEtcdCertificates(inventory()).slice(0, 1));
    rmSync(ca!.certPath);
    await expect(store().ensure(planEtcdCertificates(inventory())[0]!)).rejects.toMatchObject({ code: 'pki-ca-cert-missing' });
  });

  it('a CA key that belongs to another certificate: hard error', async () => {
    const [ca] = await store().ensureAll(planEtcdCertificates(inventory()).slice(0, 2));
    const leafKey = readFileSync(path.join(tmp.dir, 'pki', 'etcd-server-node1.key'));
    writeFileSync(ca!.keyPath, leafKey);
    await expect(store().ensure(planEtcdCertificates(inventory())[0]!)).rejects.toMatchObject({ code: 'pki-ca-invalid' });
  });

  it('a changed CA spec (name, validity) keeps the existing CA', async () => {
    const spec = planEtcdCertificates(inventory())[0] as CaSpec;
    const first = await store().ensure(spec);
    const again = await store().ensure({ ...spec, commonName: 'other', validityDays: 1 });
    expect(again.changed).toBe(false);
    expect(again.fingerprint256).toBe(first.fingerprint256);
  });

  it('warns (and only warns) when the CA itself expires soon', async () => {
    const spec = planEtcdCertificates(inventory())[0] as CaSpec;
    const first = await store().ensure(spec);
    const late = await store({ now: new Date(T0.getTime() + 3640 * DAY) }).ensure(spec);
    expect(late.changed).toBe(false);
    expect(late.fingerprint256).toBe(first.fingerprint256);
    expect(late.warnings).toEqual([expect.stringContaining('never renewed automatically')]);
  });

  it('existing loose key permissions are tightened to 0600', async () => {
    const [ca] = await store().ensureAll(planEtcdCertificates(inventory()).slice(0, 1));
    const { chmodSync } = await import('node:fs');
    chmodSync(ca!.keyPath, 0o644);
    await store().ensure(planEtcdCertificates(inventory())[0]!);
    expect(mode(ca!.keyPath)).toBe(0o600);
  });
});

describe('plan mode', () => {
  it('on an empty state dir: reports everything as created, writes nothing, planned leaves chain to the planned CA', async () => {
    const results = await store({ planOnly: true }).ensureAll(planEtcdCertificates(inventory()));
    expect(results.every((r) => r.changed && r.planned && r.action === 'created')).toBe(true);
    expect(existsSync(path.join(tmp.dir, 'pki'))).toBe(false);
    const ca = new X509Certificate(results[0]!.certPem);
    for (const r of results.slice(1)) expect(new X509Certificate(r.certPem).checkIssued(ca)).toBe(true);
  });

  it('on a converged store: nothing changes; a SAN change is reported but not written', async () => {
    await store().ensureAll(planEtcdCertificates(inventory()));
    const before = readFileSync(path.join(tmp.dir, 'pki', 'etcd-server-node1.crt'), 'utf8');
    expect((await store({ planOnly: true }).ensureAll(planEtcdCertificates(inventory()))).filter((r) => r.changed)).toEqual([]);
    const specs = planEtcdCertificates(inventory(), { extraServerSans: ['etcd.lab'] });
    const planned = await store({ planOnly: true }).ensureAll(specs);
    expect(planned.filter((r) => r.changed).map((r) => r.id)).toEqual(['etcd-server-node1', 'etcd-server-node2', 'etcd-server-node3']);
    expect(planned[1]!.reason).toBe('SANs changed: added DNS:etcd.lab');
    expect(readFileSync(path.join(tmp.dir, 'pki', 'etcd-server-node1.crt'), 'utf8')).toBe(before);
  });
});

describe('report', () => {
  it('lists every certificate with its expiry and status', async () => {
    await store().ensureAll(planEtcdCertificates(inventory()));
    const report = await store({ now: new Date(T0.getTime() + 340 * DAY) }).report();
    expect(report).toHaveLength(9);
    const ca = report.find((e) => e.id === 'etcd-ca')!;
    expect(ca).toMatchObject({ isCa: true, status: 'ok', subject: 'CN=etcd-ca-lab' });
    const admin = report.find((e) => e.id === 'etcd-admin')!;
    expect(admin).toMatchObject({ isCa: false, status: 'renew-soon', daysLeft: 25, issuer: 'CN=etcd-ca-lab' });
    expect(admin.notAfter.toISOString()).toBe('2027-01-10T12:00:00.000Z');
    const lines = formatCertReport(report);
    expect(lines.find((l) => l.startsWith('etcd-admin'))).toMatch(/^etcd-admin +expires 2027-01-10 \(25 days\) +renew-soon$/);
    expect(await new PkiStore(path.join(tmp.dir, 'nothing-here')).report()).toEqual([]);
  });
});
