/** A throw-away etcd PKI made with the openssl CLI for tests that run a real etcd (EC P-256, one day). */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Writes ca.crt, server.crt/key, peer.crt/key, admin.crt/key (the names of /etc/etcd/pki) into `dir`. */
export function makeEtcdPki(dir: string, ips: string[]): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=kubi-test-etcd-ca', '-days', '1', '-out', 'ca.crt']);
  const leaf = (name: string, ext: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
    openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  const sans = `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n`;
  leaf('server', `${sans}extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n`);
  leaf('peer', `${sans}extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n`);
  leaf('admin', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
}
