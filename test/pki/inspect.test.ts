/**
 * inspectCert reads a certificate's names with Node's X509Certificate when its text forms are
 * unambiguous, and with @peculiar/x509 otherwise: both must give the same facts. Real
 * certificates made with @peculiar/x509 (plain etcd-like ones, and ones with escaped names,
 * quoted SAN values, IPv6, other kinds of names) are read both ways and compared.
 */
import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectCert, nativeNames, peculiarNames } from '../../src/pki/crypto.js';
import { PkiStore, planEtcdCertificates } from '../../src/pki/index.js';
import { inventory, tempDir } from './helpers.js';

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
let keys: webcrypto.CryptoKeyPair;

beforeAll(async () => {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
});

async function cert(cn: string | null, names: x509.JsonGeneralName[]): Promise<string> {
  const c = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: cn === null ? [{ O: ['no common name'] }] : [{ CN: [cn] }],
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    signingAlgorithm: alg,
    keys,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  return c.toString('pem');
}

describe('inspectCert names: Node fast path = @peculiar reference', () => {
  it('plain names are read natively, and equal what @peculiar reads', async () => {
    const cases: [string | null, x509.JsonGeneralName[]][] = [
      ['node1', [{ type: 'dns', value: 'node1' }, { type: 'dns', value: 'localhost' }, { type: 'ip', value: '10.0.0.11' }, { type: 'ip', value: '127.0.0.1' }]],
      ['etcd-admin', []],
      ['*.example.org', [{ type: 'dns', value: '*.example.org' }]],
      ['üñí', [{ type: 'dns', value: 'xn--n3h.example' }]],
      [null, [{ type: 'ip', value: '192.168.1.1' }]],
    ];
    for (const [cn, names] of cases) {
      const pem = await cert(cn, names);
      const native = nativeNames(new NodeX509(pem));
      expect(native, `${cn}`).not.toBeNull();
      expect(native).toEqual(peculiarNames(pem));
    }
  });

  it('unusual names are left to @peculiar (and inspectCert still gives its reading)', async () => {
    const cases: [string, x509.JsonGeneralName[]][] = [
      ['we,ird', [{ type: 'dns', value: 'a' }]],
      ['a+b', []],
      ['plain', [{ type: 'dns', value: 'a,b.example' }]],
      ['plain', [{ type: 'ip', value: 'fd00::1' }]],
      ['plain', [{ type: 'dns', value: 'x' }, { type: 'email', value: 'a@b.example' }]],
    ];
    for (const [cn, names] of cases) {
      const pem = await cert(cn, names);
      expect(nativeNames(new NodeX509(pem)), `${cn} ${JSON.stringify(names)}`).toBeNull();
      const facts = inspectCert(pem);
      expect({ commonName: facts.commonName, dnsNames: facts.dnsNames, ipAddresses: facts.ipAddresses }).toEqual(peculiarNames(pem));
    }
  });

  it('every certificate of an issued etcd PKI is read natively, with its EKUs as OIDs', async () => {
    const t = tempDir();
    try {
      const results = await new PkiStore(t.dir).ensureAll(planEtcdCertificates(inventory()));
      for (const r of results) {
        expect(nativeNames(new NodeX509(r.certPem)), r.id).toEqual(peculiarNames(r.certPem));
        const parsed = new x509.X509Certificate(r.certPem).getExtension(x509.ExtendedKeyUsageExtension);
        expect(inspectCert(r.certPem).extKeyUsages, r.id).toEqual(parsed ? parsed.usages.map(String) : []);
      }
    } finally {
      t.cleanup();
    }
  });
});
