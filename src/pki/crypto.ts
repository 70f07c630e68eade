/**
 * Certificate and key generation (@peculiar/x509 over Node's WebCrypto) and inspection of
 * existing PEMs (Node's X509Certificate). No file I/O: the store (store.ts) owns the files.
 *
 * A converged run only checks existing certificates: that path is native (node:crypto) and
 * does not even load @peculiar/x509 (with its ASN.1 stack, ~0.1 s of CPU to load, more to parse
 * every certificate). @peculiar is loaded on first use: issuing, a CA's signing material, or
 * an unusual certificate that Node's text forms cannot describe unambiguously (see inspectCert).
 */
import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509 from '@peculiar/x509';
import { EKU_OID, type CaSpec, type ExtKeyUsageName, type KeyAlgorithm, type LeafSpec } from './types.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Peculiar = typeof X509;

const subtle = webcrypto.subtle;
let peculiarModule: Peculiar | undefined;

/** @peculiar/x509, loaded (synchronously: it is a CommonJS package) and wired to Node's WebCrypto on first use. */
function peculiar(): Peculiar {
  if (!peculiarModule) {
    const x509 = createRequire(import.meta.url)('@peculiar/x509') as Peculiar;
    // @peculiar/x509 types its provider with the DOM `Crypto`; Node's webcrypto is that API.
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    peculiarModule = x509;
  }
  return peculiarModule;
}

/**
 * Node's parse of a certificate PEM, shared: a run checks each certificate several times (key
 * match, issuer, facts; once in check and once for the host steps). X509Certificate objects are
 * immutable; a few dozen are kept.
 */
const parsedCerts = new Map<string, NodeX509>();
const PARSED_CERTS_MAX = 64;

function nodeCert(pem: string): NodeX509 {
  let cert = parsedCerts.get(pem);
  if (cert === undefined) {
    cert = new NodeX509(pem);
    if (parsedCerts.size >= PARSED_CERTS_MAX) parsedCerts.delete(parsedCerts.keys().next().value as string);
    parsedCerts.set(pem, cert);
  }
  return cert;
}

/** KeyUsage bits (RFC 5280 as @peculiar/x509's KeyUsageFlags numbers them). */
const KU = { digitalSignature: 1, keyEncipherment: 4, keyCertSign: 32, cRLSign: 64 } as const;

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
      keyUsages: KU.digitalSignature,
    };
  }
  return {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
    keyUsages: KU.digitalSignature | KU.keyEncipherment,
  };
}

/** What issuing a leaf needs from its CA (made on first use: checks never need it). */
export interface CaSigner {
  /** the CA certificate parsed by @peculiar/x509 (its subject is the leaves' issuer name) */
  parsed: X509.X509Certificate;
  signingKey: CryptoKey;
  subjectKeyId: string;
}

/** A loaded signing CA: the certificate and its private key (checked to belong together), reused for every leaf. */
export interface LoadedCa {
  certPem: string;
  keyPem: string;
  cert: NodeX509;
  keyAlgorithm: KeyAlgorithm;
  /** the signing material (memoized) */
  signer(): Promise<CaSigner>;
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
  return peculiar().PemConverter.encode(der, 'PRIVATE KEY');
}

function memoize<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = make();
      p.catch(() => {
        p = undefined;
      });
    }
    return p;
  };
}

/** A new self-signed CA certificate with a new key. */
export async function createCa(spec: CaSpec, now: Date): Promise<{ issued: Issued; ca: LoadedCa }> {
  const x509 = peculiar();
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
        KU.keyCertSign | KU.cRLSign | KU.digitalSignature,
        true,
      ),
      ski,
    ],
  });
  const issued = { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
  const signer: CaSigner = { parsed: cert, signingKey: keys.privateKey, subjectKeyId: ski.keyId };
  return {
    issued,
    ca: {
      ...issued,
      cert: new NodeX509(issued.certPem),
      keyAlgorithm: spec.keyAlgorithm,
      signer: () => Promise.resolve(signer),
    },
  };
}

/**
 * Load an existing CA from its PEMs; throws when the key does not belong to the certificate or
 * is of a type we do not issue with. The signing material is made on first `signer()`.
 */
export async function loadCa(certPem: string, keyPem: string): Promise<LoadedCa> {
  const cert = nodeCert(certPem);
  const key = createPrivateKey(keyPem);
  if (!cert.checkPrivateKey(key)) throw new Error('the ca key does not match the ca certificate');
  const keyAlgorithm = keyAlgorithmOf(cert);
  if (!keyAlgorithm) throw new Error('the ca uses an unsupported key type (supported: ecdsa p-256, rsa 2048)');
  return { certPem, keyPem, cert, keyAlgorithm, signer: memoize(() => caSigner(certPem, key, keyAlgorithm)) };
}

async function caSigner(certPem: string, key: KeyObject, keyAlgorithm: KeyAlgorithm): Promise<CaSigner> {
  const x509 = peculiar();
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const signingKey = await subtle.importKey('pkcs8', der, algorithms(keyAlgorithm).import, false, ['sign']);
  const parsed = new x509.X509Certificate(certPem);
  const skiExt = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  const subjectKeyId = skiExt ? skiExt.keyId : (await x509.SubjectKeyIdentifierExtension.create(parsed.publicKey)).keyId;
  return { parsed, signingKey, subjectKeyId };
}

/** A new leaf certificate and key signed by `ca`. */
export async function issueLeaf(spec: LeafSpec, ca: LoadedCa, now: Date): Promise<Issued> {
  const x509 = peculiar();
  const signer = await ca.signer();
  const keys = await generateKeys(spec.keyAlgorithm);
  const names: X509.JsonGeneralName[] = [
    ...spec.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...spec.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(algorithms(spec.keyAlgorithm).keyUsages, true),
    new x509.ExtendedKeyUsageExtension(spec.extKeyUsages.map((u) => EKU_OID[u]), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.AuthorityKeyIdentifierExtension(signer.subjectKeyId),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [spec.commonName] }],
    issuer: signer.parsed.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + spec.validityDays * DAY_MS),
    signingAlgorithm: algorithms(ca.keyAlgorithm).sign,
    publicKey: keys.publicKey,
    signingKey: signer.signingKey,
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

/**
 * The facts of a certificate. Read with Node's X509Certificate; the name, SANs and EKUs come
 * from its text forms while they are unambiguous (plain common name, SANs of DNS names and IPv4
 * addresses only, none quoted). Anything else (escaped or multi-valued names, quoted SAN values,
 * other kinds of names, IPv6, which Node prints unabbreviated) is read by @peculiar/x509, as it always was: the facts, and so the
 * reissue decisions and reports, are the same either way.
 */
export function inspectCert(certPem: string): CertFacts {
  const node = nodeCert(certPem);
  const names = nativeNames(node) ?? peculiarNames(certPem);
  return {
    ...names,
    extKeyUsages: node.keyUsage ? [...node.keyUsage] : [],
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    isCa: node.ca,
    fingerprint256: node.fingerprint256,
    keyAlgorithm: keyAlgorithmOf(node),
    subject: node.subject.replace(/\n/g, ', '),
    issuer: node.issuer.replace(/\n/g, ', '),
  };
}

type CertNames = Pick<CertFacts, 'commonName' | 'dnsNames' | 'ipAddresses'>;

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Common name, DNS names and IP addresses from Node's text forms, or null when they are not plain. */
export function nativeNames(node: NodeX509): CertNames | null {
  const subject = node.subject;
  if (/["\\+]/.test(subject)) return null;
  const cnLine = subject.split('\n').find((l) => l.startsWith('CN='));
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const san = node.subjectAltName;
  if (san !== undefined) {
    if (san.includes('"')) return null;
    for (const entry of san.split(', ')) {
      if (entry.startsWith('DNS:')) dnsNames.push(entry.slice('DNS:'.length));
      else if (entry.startsWith('IP Address:')) {
        const ip = entry.slice('IP Address:'.length);
        if (!IPV4.test(ip)) return null;
        ipAddresses.push(ip);
      } else return null; // another kind of name: leave its reading to @peculiar
    }
  }
  return { commonName: cnLine === undefined ? null : cnLine.slice('CN='.length), dnsNames, ipAddresses };
}

/** The same facts as @peculiar/x509 reads them (the reference; loads it). */
export function peculiarNames(certPem: string): CertNames {
  const x509 = peculiar();
  const parsed = new x509.X509Certificate(certPem);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san ? san.names.items : [];
  return {
    commonName: parsed.subjectName.getField('CN')[0] ?? null,
    dnsNames: items.filter((i) => i.type === 'dns').map((i) => i.value),
    ipAddresses: items.filter((i) => i.type === 'ip').map((i) => i.value),
  };
}

/** Does `certPem` chain to `ca` (issuer name and signature)? */
export function isIssuedBy(certPem: string, ca: LoadedCa): boolean {
  try {
    const cert = nodeCert(certPem);
    return cert.checkIssued(ca.cert) && cert.verify(ca.cert.publicKey);
  } catch {
    return false;
  }
}

/** Does the private key belong to the certificate? */
export function keyMatchesCert(certPem: string, keyPem: string): boolean {
  try {
    return nodeCert(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

export function ekuNames(oids: string[]): string[] {
  const byOid = new Map(Object.entries(EKU_OID).map(([k, v]) => [v, k]));
  return oids.map((o) => byOid.get(o) ?? o);
}

export type { ExtKeyUsageName };
