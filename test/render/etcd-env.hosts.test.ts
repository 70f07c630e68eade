/**
 * The rendered etcd environment, run for real: Debian's etcd 3.4 (what the lab runs) starts a
 * one-member TLS cluster from exactly the variables of /etc/etcd/etcd.env, in a private network
 * and mount namespace (the host address on its loopback, the PKI on a private /etc), and answers
 * /health only to clients with a certificate from the CA. Needs root, unshare and openssl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Inventory } from '../../src/inventory/schema.js';
import { buildEtcdContext, renderEtcdEnv } from '../../src/render/index.js';
import { fetchEtcd34, type Etcd34 } from './helpers/etcd34.js';
import { parseEnvFile } from './helpers/env-file.js';
import { makeEtcdPki } from './helpers/test-pki.js';

const ADDRESS = '10.77.0.11';

const SCRIPT = `set -eu
mount --make-rprivate /
mount -t tmpfs tmpfs /etc
mkdir -p /etc/etcd/pki
cp "$PKI"/ca.crt "$PKI"/server.crt "$PKI"/server.key "$PKI"/peer.crt "$PKI"/peer.key "$PKI"/admin.crt "$PKI"/admin.key /etc/etcd/pki/
ip link set lo up
ip addr add ${ADDRESS}/32 dev lo
"$KUBI_ETCD_BINARY" >"$LOG" 2>&1 &
pid=$!
health() { curl --silent --fail --max-time 2 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key "$1/health"; }
i=0
until health https://127.0.0.1:2379 >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 150 ] || ! kill -0 "$pid" 2>/dev/null; then echo "NOT-HEALTHY"; kill "$pid" 2>/dev/null || true; exit 0; fi
  sleep 0.2
done
echo "LOCAL $(health https://127.0.0.1:2379)"
echo "ADDRESS $(health https://${ADDRESS}:2379)"
if curl --silent --fail --max-time 2 --cacert /etc/etcd/pki/ca.crt https://127.0.0.1:2379/health >/dev/null 2>&1; then echo "NO-CERT accepted"; else echo "NO-CERT refused"; fi
kill "$pid"
wait "$pid" || true
`;

describe('etcd 3.4 runs from the rendered environment file', () => {
  let etcd: Etcd34;
  let dir: string;

  beforeAll(() => {
    etcd = fetchEtcd34();
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-etcd-run-'));
    mkdirSync(path.join(dir, 'pki'));
    makeEtcdPki(path.join(dir, 'pki'), [ADDRESS, '127.0.0.1']);
  }, 180_000);

  afterAll(() => {
    etcd?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('becomes healthy over TLS with client-cert-auth, and accepts every variable', () => {
    const inv = Inventory.parse({
      cluster: { name: 'etcd-run' },
      endpoint: { mode: 'none' },
      etcd: { dataDir: path.join(dir, 'data') },
      hosts: [{ name: 'node1', address: ADDRESS, roles: ['etcd', 'server'] }],
    });
    const envText = renderEtcdEnv(buildEtcdContext(inv, inv.hosts[0]!, { initialClusterState: 'new' }));
    writeFileSync(path.join(dir, 'etcd.env'), envText);
    const log = path.join(dir, 'etcd.log');
    const out = execFileSync('unshare', ['--mount', '--net', '--fork', '--', '/bin/sh', '-c', SCRIPT], {
      encoding: 'utf8',
      timeout: 90_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        ...Object.fromEntries(parseEnvFile(envText)),
        PKI: path.join(dir, 'pki'),
        KUBI_ETCD_BINARY: etcd.binary,
        LOG: log,
      },
    });
    const etcdLog = readFileSync(log, 'utf8');
    expect(out, etcdLog).toContain('LOCAL {"health":"true"}');
    expect(out).toContain('ADDRESS {"health":"true"}');
    expect(out).toContain('NO-CERT refused');
    // etcd warns about ETCD_* variables it does not know: there must be none
    expect(etcdLog).not.toMatch(/unrecognized environment variable/i);
    expect(etcdLog).toContain('Name:node1 ClientURLs:[https://10.77.0.11:2379]');
    expect(etcdLog).toContain('serving client traffic securely');
  });
});
