/**
 * keepalived.conf and check-apiserver.sh, run for real (root, private namespaces):
 *  - Debian 12's keepalived 2.2.7 checks each server's rendered configuration (`--config-test`)
 *    on a network namespace with the host's address on eth0 and the check script in place;
 *  - the rendered check script runs against a local HTTPS server on 127.0.0.1:6443 that answers
 *    like k3s's API server (401 without a client certificate, /readyz 200 or 500 with one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildKeepalivedContext, renderCheckApiserverScript, renderKeepalivedConf } from '../../src/render/index.js';
import { fetchDebianPackage, type DebianPackage } from './helpers/debian-package.js';
import { host, sampleInventory } from './helpers/sample.js';
import { makeEtcdPki } from './helpers/test-pki.js';

const inv = sampleInventory();

describe('keepalived 2.2.7 accepts the rendered configuration', () => {
  const pkgs: DebianPackage[] = [];
  let dir: string;
  let libs: string;
  let keepalived: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-keepalived-'));
    for (const name of ['keepalived', 'libnl-genl-3-200', 'libsnmp40', 'libsnmp-base', 'libpci3']) pkgs.push(fetchDebianPackage(name));
    libs = pkgs.flatMap((p) => [path.join(p.root, 'lib/x86_64-linux-gnu'), path.join(p.root, 'usr/lib/x86_64-linux-gnu')]).join(':');
    keepalived = path.join(pkgs[0]!.root, 'usr/sbin/keepalived');
    writeFileSync(path.join(dir, 'check-apiserver.sh'), renderCheckApiserverScript(inv));
    chmodSync(path.join(dir, 'check-apiserver.sh'), 0o755);
  }, 300_000);
  afterAll(() => {
    for (const p of pkgs) p.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const configTest = (conf: string, address: string): { code: number; output: string } => {
    writeFileSync(path.join(dir, 'keepalived.conf'), conf);
    const script = `set -e
# a private /etc (user names still resolve) with the check script where the configuration expects it
mkdir -p "$DIR/etc"
cp /etc/passwd /etc/group /etc/nsswitch.conf "$DIR/etc/"
mount -t tmpfs tmpfs /etc
cp "$DIR/etc/passwd" "$DIR/etc/group" "$DIR/etc/nsswitch.conf" /etc/
mkdir -p /etc/keepalived
cp "$DIR/check-apiserver.sh" /etc/keepalived/check-apiserver.sh
ip link add eth0 type veth peer name eth1
ip addr add ${address}/24 dev eth0
ip link set eth1 up
ip link set eth0 up
set +e
LD_LIBRARY_PATH="$LIBS" "$KEEPALIVED" --config-test -f "$DIR/keepalived.conf" 2>&1
echo "EXIT $?"
`;
    const out = execFileSync('unshare', ['--net', '--mount', '--fork', '--', '/bin/sh', '-c', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DIR: dir, LIBS: libs, KEEPALIVED: keepalived },
    });
    const code = Number(/EXIT (\d+)/.exec(out)?.[1] ?? NaN);
    return { code, output: out };
  };

  it('finds a wrong keyword (control)', () => {
    const conf = renderKeepalivedConf(buildKeepalivedContext(inv, host(inv, 'node1'), { interface: 'eth0', prefixLength: 24 })).replace('advert_int 1', 'advert_intervall 1');
    const r = configTest(conf, '10.77.0.11');
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toMatch(/Unknown keyword 'advert_intervall'/);
  });

  it.each(['node1', 'node2', 'node3'])('%s', (name) => {
    const h = host(inv, name);
    const conf = renderKeepalivedConf(buildKeepalivedContext(inv, h, { interface: 'eth0', prefixLength: 24, authPass: 'k8sVrrp1' }));
    const r = configTest(conf, h.address);
    expect(r.output.replace(/EXIT \d+\n?/, '').trim()).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('check-apiserver.sh against an API server look-alike', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-apicheck-'));
    mkdirSync(path.join(dir, 'pki'));
    makeEtcdPki(path.join(dir, 'pki'), ['127.0.0.1']);
    writeFileSync(path.join(dir, 'check.sh'), renderCheckApiserverScript(inv));
    // 401 without a client certificate; with one, /readyz is 200 unless the file "not-ready" exists
    writeFileSync(
      path.join(dir, 'server.mjs'),
      `import https from 'node:https'; import fs from 'node:fs';
const d = process.argv[2];
https.createServer({ key: fs.readFileSync(d + '/pki/server.key'), cert: fs.readFileSync(d + '/pki/server.crt'), ca: fs.readFileSync(d + '/pki/ca.crt'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
  if (!req.socket.authorized) { res.writeHead(401); return res.end('unauthorized'); }
  res.writeHead(req.url === '/readyz' && !fs.existsSync(d + '/not-ready') ? 200 : 500); res.end('');
}).listen(6443, '127.0.0.1', () => console.log('listening'));
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes on 401 before k3s wrote its admin certificate, then on /readyz 200 only', () => {
    const script = `set -u
mount -t tmpfs tmpfs /var/lib
ip link set lo up
"$NODE" "$DIR/server.mjs" "$DIR" > "$DIR/server.log" 2>&1 &
server=$!
i=0; until grep -q listening "$DIR/server.log" || [ $i -ge 100 ]; do i=$((i+1)); sleep 0.1; done
sh "$DIR/check.sh"; echo "no-cert $?"
mkdir -p /var/lib/rancher/k3s/server/tls
cp "$DIR/pki/admin.crt" /var/lib/rancher/k3s/server/tls/client-admin.crt
cp "$DIR/pki/admin.key" /var/lib/rancher/k3s/server/tls/client-admin.key
sh "$DIR/check.sh"; echo "ready $?"
touch "$DIR/not-ready"
sh "$DIR/check.sh"; echo "not-ready $?"
kill $server
ip link set lo down
sh "$DIR/check.sh"; echo "down $?"
`;
    const out = execFileSync('unshare', ['--net', '--mount', '--fork', '--', '/bin/sh', '-c', script], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DIR: dir, NODE: process.execPath },
    });
    expect(out.trim().split('\n')).toEqual(['no-cert 0', 'ready 0', 'not-ready 1', 'down 1']);
  });
});
