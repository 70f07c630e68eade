/**
 * Test harness: a real 3-member etcd cluster with client and peer TLS on loopback addresses of this
 * machine, for the smoke tests that must see real etcd behaviour (health, a stopped member, TLS
 * refusal). Binaries: Debian's etcd-server/etcd-client 3.4.23 (`apt-get download` + `dpkg-deb -x`
 * into a cache dir, once), or $KUBI_TEST_ETCD_BIN_DIR. Certificates: made with the openssl CLI
 * (EC P-256; IP SANs only, so etcd never does DNS lookups). Processes are stopped by PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface EtcdMemberProc {
  name: string;
  address: string;
  proc: ChildProcess | null;
  log: string[];
}

/** Directory holding `etcd` and `etcdctl` (downloads Debian's 3.4.23 packages into a cache once). */
export async function etcdBinDir(): Promise<string> {
  const fromEnv = process.env.KUBI_TEST_ETCD_BIN_DIR;
  if (fromEnv) return fromEnv;
  const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'kubi-provision', 'test', 'etcd-debian');
  const bin = path.join(cache, 'x', 'usr', 'bin');
  if (existsSync(path.join(bin, 'etcd')) && existsSync(path.join(bin, 'etcdctl'))) return bin;
  await fs.mkdir(cache, { recursive: true });
  try {
    await run('apt-get', ['download', 'etcd-server', 'etcd-client'], { cwd: cache });
  } catch (e) {
    throw new Error(`cannot get etcd for the test: apt-get download etcd-server etcd-client failed in ${cache} (${(e as Error).message}); or set KUBI_TEST_ETCD_BIN_DIR`);
  }
  for (const deb of (await fs.readdir(cache)).filter((f) => f.endsWith('.deb'))) {
    await run('dpkg-deb', ['-x', path.join(cache, deb), path.join(cache, 'x')]);
  }
  return bin;
}

export class LocalEtcdCluster {
  readonly members: EtcdMemberProc[];
  readonly pki: string;
  readonly paths: { etcdctl: string; caCert: string; adminCert: string; adminKey: string; pkiDir: string };

  private constructor(
    readonly dir: string,
    readonly bin: string,
    addresses: string[],
  ) {
    this.members = addresses.map((address, i) => ({ name: `node${i + 1}`, address, proc: null, log: [] }));
    this.pki = path.join(dir, 'pki');
    this.paths = {
      etcdctl: path.join(bin, 'etcdctl'),
      caCert: path.join(this.pki, 'ca.crt'),
      adminCert: path.join(this.pki, 'admin.crt'),
      adminKey: path.join(this.pki, 'admin.key'),
      pkiDir: this.pki,
    };
  }

  /** Certificates and data dirs; call start() next and stopAll() + remove() at the end. */
  static async create(addresses: string[]): Promise<LocalEtcdCluster> {
    const cached = await etcdBinDir();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kubi-etcd-'));
    // a copy under /tmp: the sshd harness gives every session an empty /root, hiding ~/.cache
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin);
    for (const f of ['etcd', 'etcdctl']) await fs.copyFile(path.join(cached, f), path.join(bin, f));
    await fs.chmod(path.join(bin, 'etcd'), 0o755);
    await fs.chmod(path.join(bin, 'etcdctl'), 0o755);
    const c = new LocalEtcdCluster(dir, bin, addresses);
    await fs.mkdir(c.pki, { mode: 0o700 });
    await c.makePki();
    return c;
  }

  private async openssl(args: string[]): Promise<void> {
    await run('openssl', args, { cwd: this.pki });
  }

  private async leaf(name: string, eku: string, san: string): Promise<void> {
    await this.openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
    await this.openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    await fs.writeFile(path.join(this.pki, `${name}.ext`), `extendedKeyUsage=${eku}\nkeyUsage=digitalSignature,keyEncipherment\n${san ? `subjectAltName=${san}\n` : ''}`);
    await this.openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    await fs.rm(path.join(this.pki, `${name}.csr`));
    await fs.rm(path.join(this.pki, `${name}.ext`));
  }

  private async makePki(): Promise<void> {
    await this.openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
    await this.openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=kubi-test-etcd-ca', '-days', '3650', '-out', 'ca.crt']);
    for (const m of this.members) {
      // peers connect from 127.0.0.1 (the source address the kernel picks on lo): etcd checks it against the peer cert's IP SANs
      await this.leaf(`${m.name}-server`, 'serverAuth,clientAuth', `IP:${m.address},IP:127.0.0.1`);
      await this.leaf(`${m.name}-peer`, 'serverAuth,clientAuth', `IP:${m.address},IP:127.0.0.1`);
    }
    await this.leaf('admin', 'clientAuth', '');
  }

  initialCluster(): string {
    return this.members.map((m) => `${m.name}=https://${m.address}:2380`).join(',');
  }

  /** Start one member (all of them at first). */
  async start(name?: string): Promise<void> {
    for (const m of this.members.filter((x) => !name || x.name === name)) {
      const data = path.join(this.dir, `data-${m.name}`);
      await fs.mkdir(data, { recursive: true, mode: 0o700 });
      const p = (f: string) => path.join(this.pki, f);
      const proc = spawn(
        path.join(this.bin, 'etcd'),
        [
          `--name=${m.name}`,
          `--data-dir=${data}`,
          `--listen-client-urls=https://${m.address}:2379`,
          `--advertise-client-urls=https://${m.address}:2379`,
          `--listen-peer-urls=https://${m.address}:2380`,
          `--initial-advertise-peer-urls=https://${m.address}:2380`,
          `--initial-cluster=${this.initialCluster()}`,
          '--initial-cluster-state=new',
          '--initial-cluster-token=kubi-smoke-test',
          `--cert-file=${p(`${m.name}-server.crt`)}`,
          `--key-file=${p(`${m.name}-server.key`)}`,
          '--client-cert-auth=true',
          `--trusted-ca-file=${p('ca.crt')}`,
          `--peer-cert-file=${p(`${m.name}-peer.crt`)}`,
          `--peer-key-file=${p(`${m.name}-peer.key`)}`,
          '--peer-client-cert-auth=true',
          `--peer-trusted-ca-file=${p('ca.crt')}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const keep = (b: Buffer) => {
        m.log.push(b.toString());
        if (m.log.length > 200) m.log.splice(0, m.log.length - 200);
      };
      proc.stdout!.on('data', keep);
      proc.stderr!.on('data', keep);
      m.proc = proc;
    }
  }

  /** Stop a member by its PID (SIGTERM, then SIGKILL) and wait for it to exit. */
  async stop(name: string): Promise<void> {
    const m = this.members.find((x) => x.name === name)!;
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    m.proc = null;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.stop(m.name)));
  }

  async remove(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  /** etcdctl with the admin certificate against every member (for setup and assertions). */
  async etcdctl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    const endpoints = this.members.map((m) => `https://${m.address}:2379`).join(',');
    try {
      const r = await run(this.paths.etcdctl, ['--cacert', this.paths.caCert, '--cert', this.paths.adminCert, '--key', this.paths.adminKey, '--endpoints', endpoints, '--dial-timeout', '2s', '--command-timeout', '4s', ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ETCDCTL_API: '3' },
      });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; code?: number };
      return { stdout: x.stdout ?? '', stderr: x.stderr ?? '', code: typeof x.code === 'number' ? x.code : 1 };
    }
  }

  /** Wait until every member reports healthy. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      const r = await this.etcdctl(['endpoint', 'health', '-w', 'json']);
      last = r.stdout + r.stderr;
      if (r.code === 0 && (r.stdout.match(/"health":true/g) ?? []).length === this.members.length) return;
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new Error(`etcd members not healthy after ${timeoutMs} ms: ${last.slice(-500)}\n${this.members.map((m) => `${m.name}: ${m.log.join('').slice(-800)}`).join('\n')}`);
  }
}
