/**
 * A real TLS handshake on 127.0.0.1 with the issued certificates: a Node `tls` server with a
 * member's server certificate that requires client certificates from the etcd CA (as etcd does
 * with --client-cert-auth). The admin client certificate is accepted; a certificate from another
 * CA and no certificate at all are refused.
 */
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PkiStore, planEtcdCertificates, type EnsureResult } from '../../src/pki/index.js';
import { inventory, tempDir } from './helpers.js';

let ours: Map<string, EnsureResult>;
let theirs: Map<string, EnsureResult>;
let server: tls.Server;
let port: number;
const serverErrors: string[] = [];
const accepted: string[] = [];
const dirs: { cleanup: () => void }[] = [];

async function issue(cluster: string): Promise<Map<string, EnsureResult>> {
  const t = tempDir();
  dirs.push(t);
  const results = await new PkiStore(t.dir).ensureAll(planEtcdCertificates(inventory({ cluster: { name: cluster } })));
  return new Map(results.map((r) => [r.id, r]));
}

beforeAll(async () => {
  ours = await issue('lab');
  theirs = await issue('other');
  const cert = ours.get('etcd-server-node1')!;
  server = tls.createServer(
    {
      cert: cert.certPem,
      key: cert.keyPem,
      ca: [ours.get('etcd-ca')!.certPem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket) => {
      accepted.push(String(socket.getPeerCertificate().subject?.CN));
      socket.end('hello\n');
    },
  );
  server.on('tlsClientError', (e) => serverErrors.push(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of dirs) d.cleanup();
});

/** Connect, read until the server closes; resolves with what was received or the error. */
function talk(opts: { cert?: EnsureResult; servername?: string; maxVersion?: tls.SecureVersion }): Promise<{ data: string; error: string | null }> {
  return new Promise((resolve) => {
    let data = '';
    let settled = false;
    const done = (error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ data, error });
    };
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: [ours.get('etcd-ca')!.certPem],
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
      ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
    });
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', (e) => done(e.message));
    socket.on('close', () => done(null));
  });
}

describe('TLS with the etcd PKI', () => {
  it('accepts the admin client certificate (server verified by IP SAN 127.0.0.1)', async () => {
    const r = await talk({ cert: ours.get('etcd-admin')! });
    expect(r).toEqual({ data: 'hello\n', error: null });
    expect(accepted).toContain('etcd-admin');
  });

  it('accepts the k3s client certificate and a peer certificate as a client, server verified by DNS SAN', async () => {
    expect((await talk({ cert: ours.get('etcd-client-k3s')!, servername: 'node1' })).data).toBe('hello\n');
    expect((await talk({ cert: ours.get('etcd-peer-node2')! })).data).toBe('hello\n');
  });

  it.each(['TLSv1.3', 'TLSv1.2'] as const)('refuses a client certificate from another CA (%s)', async (maxVersion) => {
    const before = serverErrors.length;
    const acceptedBefore = accepted.length;
    const r = await talk({ cert: theirs.get('etcd-admin')!, maxVersion });
    // Node's server drops the connection without a detailed alert; what matters is the refusal
    expect(r.data).toBe('');
    expect(accepted.length).toBe(acceptedBefore);
    expect(serverErrors.length).toBeGreaterThan(before);
  });

  it('refuses a client without a certificate', async () => {
    const before = serverErrors.length;
    const acceptedBefore = accepted.length;
    const r = await talk({});
    expect(r.data).toBe('');
    expect(accepted.length).toBe(acceptedBefore);
    expect(r.error ?? '').toMatch(/certificate/i);
    expect(serverErrors.slice(before).join(' ')).toMatch(/certificate/i);
  });

  it('the client refuses a server name the certificate does not carry', async () => {
    const r = await talk({ cert: ours.get('etcd-admin')!, servername: 'node2' });
    expect(r.data).toBe('');
    expect(r.error).toMatch(/node2/);
  });
});
