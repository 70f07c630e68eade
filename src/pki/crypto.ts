/**
 * Certificate and key generation (@peculiar/x509 over Node's WebCrypto) and inspection of
 * existing PEMs (Node's X509Certificate). No file I/O: the store (store.ts) owns the files.
 */
import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { EKU_OID, type CaSpec, type ExtKeyUsageName, type KeyAlgorithm, type LeafSpec } from './types.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 types its provider with the DOM `Crypto`; Node's webcrypto is that API.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const subtle = webcrypto.subtle;

const DAY_MS = 24 * 60 * 60 * 1000;
/** certificates start a little in the past: tolerate clock skew between workstation and hosts */
const BACKDATE_MS = 5 * 60 * 1000;

interface AlgorithmSet {
  generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  import: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  sign: webcrypto.Algorithm | webcrypto.EcdsaParams;
  keyUsages: number;
}

function algorithms(alg: KeyAlgorithm): AlgorithmSet {
  if (alg === 'ecdsa-p256') {
    return {
      generate: { name: 'ECDSA', namedCurve: 'P-256' },
      import: { name: 'ECDSA', namedCurve: 'P-256' },
      sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
      keyUsages: x509.KeyUsageFlags.digitalSignature,
    };
  }
  return {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
    keyUsages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
  };
}

/** A loaded signing CA: the parsed certificate and its private key object (reused for every leaf). */
export interface LoadedCa {
  certPem: string;
  keyPem: string;
  cert: NodeX509;
  /** the same certificate parsed by @peculiar/x509 (its subject is the leaves' issuer name) */
  parsed: x509.X509Certificate;
  signingKey: CryptoKey;
  keyAlgorithm: KeyAlgorithm;
  subjectKeyId: string;
}

export interface Issued {
  certPem: string;
  keyPem: string;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01; // positive, no leading zero byte
  return bytes.toString('hex');
}

async function generateKeys(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithms(alg).generate, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A new self-signed CA certificate with a new key. */
export async function createCa(spec: CaSpec, now: Date): Promise<{ issued: Issued; ca: LoadedCa }> {
  const keys = await generateKeys(spec.keyAlgorithm);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [spec.commonName] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + spec.validityDays * DAY_MS),
    signingAlgorithm: algorithms(spec.keyAlgorithm).sign,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      ski,
    ],
  });
  const issued = { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
  return {
    issued,
    ca: {
      ...issued,
      cert: new NodeX509(issued.certPem),
      parsed: cert,
      signingKey: keys.privateKey,
      keyAlgorithm: spec.keyAlgorithm,
      subjectKeyId: ski.keyId,
    },
  };
}

/** Load an existing CA from its PEMs; throws when the key does not belong to the certificate. */
export async function loadCa(certPem: string, keyPem: string): Promise<LoadedCa> {
  const cert = new NodeX509(certPem);
  const key = createPrivateKey(keyPem);
  if (!cert.checkPrivateKey(key)) throw new Error('the ca key does not match the ca certificate');
  const keyAlgorithm = keyAlgorithmOf(cert);
  if (!keyAlgorithm) throw new Error('the ca uses an unsupported key type (supported: ecdsa p-256, rsa 2048)');
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const signingKey = await subtle.importKey('pkcs8', der, algorithms(keyAlgorithm).import, false, ['sign']);
  const parsed = new x509.X509Certificate(certPem);
  const skiExt = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  const subjectKeyId = skiExt ? skiExt.keyId : (await x509.SubjectKeyIdentifierExtension.create(parsed.publicKey)).keyId;
  return { certPem, keyPem, cert, parsed, signingKey, keyAlgorithm, subjectKeyId };
}

/** A new leaf certificate and key signed by `ca`. */
export async function issueLeaf(spec: LeafSpec, ca: LoadedCa, now: Date): Promise<Issued> {
  const keys = await generateKeys(spec.keyAlgorithm);
  const names: x509.JsonGeneralName[] = [
    ...spec.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...spec.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(algorithms(spec.keyAlgorithm).keyUsages, true),
    new x509.ExtendedKeyUsageExtension(spec.extKeyUsages.map((u) => EKU_OID[u]), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.AuthorityKeyIdentifierExtension(ca.subjectKeyId),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [spec.commonName] }],
    issuer: ca.parsed.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + spec.validityDays * DAY_MS),
    signingAlgorithm: algorithms(ca.keyAlgorithm).sign,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

/** The key algorithm of a certificate's public key, or null when it is not one we issue. */
export function keyAlgorithmOf(cert: NodeX509): KeyAlgorithm | null {
  const pub = cert.publicKey;
  if (pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (pub.asymmetricKeyType === 'rsa' && pub.asymmetricKeyDetails?.modulusLength === 2048) return 'rsa-2048';
  return null;
}

/** What the store compares an existing leaf against. */
export interface CertFacts {
  commonName: string | null;
  dnsNames: string[];
  ipAddresses: string[];
  extKeyUsages: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  fingerprint256: string;
  keyAlgorithm: KeyAlgorithm | null;
  subject: string;
  issuer: string;
}

export function inspectCert(certPem: string): CertFacts {
  const node = new NodeX509(certPem);
  const parsed = new x509.X509Certificate(certPem);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san ? san.names.items : [];
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  const cn = parsed.subjectName.getField('CN')[0] ?? null;
  return {
    commonName: cn,
    dnsNames: items.filter((i) => i.type === 'dns').map((i) => i.value),
    ipAddresses: items.filter((i) => i.type === 'ip').map((i) => i.value),
    extKeyUsages: eku ? eku.usages.map((u) => String(u)) : [],
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    isCa: node.ca,
    fingerprint256: node.fingerprint256,
    keyAlgorithm: keyAlgorithmOf(node),
    subject: node.subject.replace(/\n/g, ', '),
    issuer: node.issuer.replace(/\n/g, ', '),
  };
}

/** Does `certPem` chain to `ca` (issuer name and signature)? */
export function isIssuedBy(certPem: string, ca: LoadedCa): boolean {
  try {
    const cert = new NodeX509(certPem);
    return cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey);
  } catch {
    return false;
  }
}

/** Does the private key belong to the certificate? */
export function keyMatchesCert(certPem: string, keyPem: string): boolean {
  try {
    return new NodeX509(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

export function ekuNames(oids: string[]): string[] {
  const byOid = new Map(Object.entries(EKU_OID).map(([k, v]) => [v, k]));
  return oids.map((o) => byOid.get(o) ?? o);
}

export type { ExtKeyUsageName };
