/**
 * Test harness: real OpenSSH servers as distinct "hosts" for the transport's *.hosts.test.ts.
 *
 * Needs root and `openssh-server` + `sudo` installed (CI: apt-get install -y openssh-server sudo).
 * Everything is created per test run in a temp dir and removed by `cleanup()`:
 *  - user keys (ed25519, one encrypted with a passphrase, one never authorised);
 *  - sshd instances (`/usr/sbin/sshd -D -e -f <config>`), each with its own host key, on its own
 *    loopback address (127.x.y.z) or inside a network namespace; UsePAM no, StrictModes no,
 *    AuthorizedKeysFile in the temp dir; stopped by PID;
 *  - optional users: `kubitest` (NOPASSWD sudo) and `kubitestpw` (sudo needs a password), with a
 *    sudoers file in /etc/sudoers.d that is removed again;
 *  - optional ssh-agent (killed by PID) and network namespaces (deleted).
 * Traffic stays on loopback or inside the namespaces created here.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubiError } from '../../src/errors.js';

const run = promisify(execFile);

/** PIDs this harness started and has not stopped yet: killed if the test process exits early. */
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) killPid(pid, 'SIGKILL');
});

export const SSHD = '/usr/sbin/sshd';
export const NOPASSWD_USER = 'kubitest';
export const PASSWORD_USER = 'kubitestpw';
const SUDOERS_FILE = '/etc/sudoers.d/kubi-provision-test';

export interface UserKeys {
  /** unencrypted, authorised */
  plain: string;
  /** encrypted with `encryptedPassphrase`, authorised */
  encrypted: string;
  encryptedPassphrase: string;
  /** for the agent only, authorised */
  agentKey: string;
  /** valid key that is NOT authorised */
  unauthorised: string;
}

export interface SshdServer {
  name: string;
  /** address clients connect to */
  address: string;
  port: number;
  /** network namespace it runs in (null: the root namespace) */
  netns: string | null;
  hostKeyPath: string;
  readonly pid: number;
  /** `SHA256:...` of its host key, from ssh-keygen -lf */
  fingerprint(): Promise<string>;
  /** start again after stop(), same address, port and host key */
  start(): Promise<void>;
  /** stop, replace the host key with a new one, start again on the same address and port */
  regenerateHostKey(): Promise<void>;
  /** SIGKILL every per-connection sshd process (the listener survives); returns how many were killed */
  killConnections(): Promise<number>;
  stop(): Promise<void>;
  /** stderr of sshd so far (for diagnostics) */
  log(): string;
}

export interface StartSshdOptions {
  name: string;
  /** listen address (default: a fresh 127.x.y.z) */
  address?: string;
  /** default: a free port (or 22 inside a namespace) */
  port?: number;
  netns?: string;
  /** extra sshd_config lines */
  extraConfig?: string[];
}

export interface Netns {
  name: string;
  exec(argv: string[]): Promise<{ stdout: string; stderr: string }>;
}

export interface JumpNetwork {
  /** namespace of the jump host: reachable from the root namespace at `jumpAddress` */
  jumpNs: Netns;
  jumpAddress: string;
  /** namespace of the target: reachable only from the jump namespace at `targetAddress` */
  targetNs: Netns;
  targetAddress: string;
  /** cut the link between the jump and the target namespace (packets silently dropped from then on) */
  cutTarget(): Promise<void>;
}

export class SshdLab {
  readonly dir: string;
  readonly keys: UserKeys;
  readonly authorizedKeysFile: string;
  readonly sudoPassword = `pw-${randomBytes(6).toString('hex')}`;
  private readonly servers: SshdServerImpl[] = [];
  private readonly agents: ChildProcess[] = [];
  private readonly namespaces: string[] = [];
  private readonly routes: string[] = [];
  private usersCreated = false;

  private constructor(dir: string, keys: UserKeys, authorizedKeysFile: string) {
    this.dir = dir;
    this.keys = keys;
    this.authorizedKeysFile = authorizedKeysFile;
  }

  /** Temp dir, user keys, authorized_keys. Call `cleanup()` in afterAll. */
  static async create(): Promise<SshdLab> {
    if (process.getuid?.() !== 0) throw new Error('the sshd harness needs root');
    if (!existsSync(SSHD)) throw new Error(`${SSHD} missing: apt-get install -y openssh-server`);
    await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kubi-sshd-'));
    // sshd reads authorized_keys as the login user: the path must be traversable by everyone
    await fs.chmod(dir, 0o755);
    const keysDir = path.join(dir, 'keys');
    await fs.mkdir(keysDir, { mode: 0o700 });
    const keygen = async (file: string, pass: string) =>
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', pass, '-C', path.basename(file), '-f', file]);
    const encryptedPassphrase = `pass phrase ${randomBytes(4).toString('hex')}`;
    const keys: UserKeys = {
      plain: path.join(keysDir, 'id_plain'),
      encrypted: path.join(keysDir, 'id_encrypted'),
      encryptedPassphrase,
      agentKey: path.join(keysDir, 'id_agent'),
      unauthorised: path.join(keysDir, 'id_unauthorised'),
    };
    await Promise.all([
      keygen(keys.plain, ''),
      keygen(keys.encrypted, encryptedPassphrase),
      keygen(keys.agentKey, ''),
      keygen(keys.unauthorised, ''),
    ]);
    const authorizedKeysFile = path.join(dir, 'authorized_keys');
    const pubs = await Promise.all([keys.plain, keys.encrypted, keys.agentKey].map((k) => fs.readFile(`${k}.pub`, 'utf8')));
    await fs.writeFile(authorizedKeysFile, pubs.join(''), { mode: 0o644 });
    return new SshdLab(dir, keys, authorizedKeysFile);
  }

  /** A fresh loopback address 127.a.b.c (a in 100..199), unlikely to collide with anyone else's. */
  static loopbackAddress(): string {
    const b = randomBytes(3);
    return `127.${100 + (b[0]! % 100)}.${b[1]!}.${1 + (b[2]! % 250)}`;
  }

  async startSshd(opts: StartSshdOptions): Promise<SshdServer> {
    const address = opts.address ?? SshdLab.loopbackAddress();
    const port = opts.port ?? (opts.netns ? 22 : await freePort(address));
    const sdir = path.join(this.dir, `sshd-${opts.name}`);
    await fs.mkdir(sdir, { mode: 0o755 });
    const server = new SshdServerImpl(this, opts.name, address, port, opts.netns ?? null, sdir, opts.extraConfig ?? []);
    await server.generateHostKey();
    await server.writeConfig();
    await server.start();
    this.servers.push(server);
    return server;
  }

  /** Users for the sudo tests: kubitest (NOPASSWD) and kubitestpw (password `sudoPassword`). */
  async createUsers(): Promise<void> {
    if (!existsSync('/usr/bin/sudo')) throw new Error('sudo missing: apt-get install -y sudo');
    for (const user of [NOPASSWD_USER, PASSWORD_USER]) {
      if (await userExists(user)) await run('userdel', ['-r', '-f', user]).catch(() => undefined);
      // '*' = no password but not locked (sshd without PAM refuses accounts locked with '!')
      await run('useradd', ['-m', '-s', '/bin/bash', '-p', '*', user]);
    }
    this.usersCreated = true;
    await new Promise<void>((resolve, reject) => {
      const p = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))));
      p.stdin.end(`${PASSWORD_USER}:${this.sudoPassword}\n`);
    });
    const rules = `${NOPASSWD_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n${PASSWORD_USER} ALL=(ALL:ALL) ALL\n`;
    const tmp = `${SUDOERS_FILE}.tmp`;
    // a name with a dot is ignored by sudo's includedir, so the temp file is never active
    await fs.writeFile(tmp, rules, { mode: 0o440 });
    await run('visudo', ['-c', '-q', '-f', tmp]);
    await fs.rename(tmp, SUDOERS_FILE);
  }

  /** Start an ssh-agent holding `keys`; returns its socket. */
  async startAgent(keys: string[]): Promise<string> {
    const socket = path.join(this.dir, `agent-${randomBytes(3).toString('hex')}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.agents.push(agent);
    if (agent.pid) {
      const pid = agent.pid;
      livePids.add(pid);
      agent.once('exit', () => livePids.delete(pid));
    }
    await waitFor(() => existsSync(socket), 5_000, 'ssh-agent socket');
    for (const k of keys) await run('ssh-add', ['-q', k], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    return socket;
  }

  async createNetns(prefix: string): Promise<Netns> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return { name, exec: (argv) => run('ip', ['netns', 'exec', name, ...argv]) };
  }

  /**
   * root ns --veth-- jump ns --veth-- target ns. The root namespace routes only to the jump
   * namespace; the target's subnet is marked unreachable in the root namespace (so a direct
   * connection fails at once and nothing leaves the machine). Forwarding is off in the jump ns.
   */
  async createJumpNetwork(): Promise<JumpNetwork> {
    const routes = (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout + (await run('ip', ['-4', 'addr'])).stdout;
    let x = 0;
    for (let i = 0; i < 50; i++) {
      const c = 1 + (randomBytes(1)[0]! % 250);
      if (!routes.includes(`10.213.${c}.`) && !routes.includes(`10.214.${c}.`)) {
        x = c;
        break;
      }
    }
    if (x === 0) throw new Error('no free 10.213.x.0/30 subnet for the jump network');
    const jumpNs = await this.createNetns('kt-jump');
    const targetNs = await this.createNetns('kt-tgt');
    const tag = randomBytes(2).toString('hex');
    const rj = [`ktr${tag}`, `ktj${tag}`];
    const jt = [`ktx${tag}`, `ktt${tag}`];
    await run('ip', ['link', 'add', rj[0]!, 'type', 'veth', 'peer', 'name', rj[1]!]);
    await run('ip', ['link', 'set', rj[1]!, 'netns', jumpNs.name]);
    await run('ip', ['addr', 'add', `10.213.${x}.1/30`, 'dev', rj[0]!]);
    await run('ip', ['link', 'set', rj[0]!, 'up']);
    await jumpNs.exec(['ip', 'addr', 'add', `10.213.${x}.2/30`, 'dev', rj[1]!]);
    await jumpNs.exec(['ip', 'link', 'set', rj[1]!, 'up']);
    await run('ip', ['-n', jumpNs.name, 'link', 'add', jt[0]!, 'type', 'veth', 'peer', 'name', jt[1]!]);
    await run('ip', ['-n', jumpNs.name, 'link', 'set', jt[1]!, 'netns', targetNs.name]);
    await jumpNs.exec(['ip', 'addr', 'add', `10.214.${x}.1/30`, 'dev', jt[0]!]);
    await jumpNs.exec(['ip', 'link', 'set', jt[0]!, 'up']);
    await targetNs.exec(['ip', 'addr', 'add', `10.214.${x}.2/30`, 'dev', jt[1]!]);
    await targetNs.exec(['ip', 'link', 'set', jt[1]!, 'up']);
    await jumpNs.exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
    const unreachable = `10.214.${x}.0/30`;
    await run('ip', ['route', 'add', 'unreachable', unreachable]);
    this.routes.push(unreachable);
    return {
      jumpNs,
      jumpAddress: `10.213.${x}.2`,
      targetNs,
      targetAddress: `10.214.${x}.2`,
      // drop instead of reset: the peer sees silence, as with a pulled cable
      cutTarget: async () => {
        await targetNs.exec(['ip', 'link', 'set', jt[1]!, 'down']);
      },
    };
  }

  /** Stop every sshd and agent by PID, delete namespaces, routes, users, the sudoers file and the temp dir. */
  async cleanup(): Promise<void> {
    for (const s of this.servers) await s.stop().catch(() => undefined);
    for (const a of this.agents) if (a.pid && a.exitCode === null) killPid(a.pid, 'SIGTERM');
    for (const r of this.routes) await run('ip', ['route', 'del', 'unreachable', r]).catch(() => undefined);
    for (const ns of this.namespaces) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    if (this.usersCreated) {
      await fs.rm(SUDOERS_FILE, { force: true });
      for (const user of [NOPASSWD_USER, PASSWORD_USER]) await run('userdel', ['-r', '-f', user]).catch(() => undefined);
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

class SshdServerImpl implements SshdServer {
  readonly hostKeyPath: string;
  private proc: ChildProcess | null = null;
  private stderr = '';

  constructor(
    private readonly lab: SshdLab,
    readonly name: string,
    readonly address: string,
    readonly port: number,
    readonly netns: string | null,
    private readonly dir: string,
    private readonly extraConfig: string[],
  ) {
    this.hostKeyPath = path.join(dir, 'ssh_host_ed25519_key');
  }

  get pid(): number {
    if (!this.proc?.pid) throw new Error(`sshd ${this.name} is not running`);
    return this.proc.pid;
  }

  async generateHostKey(): Promise<void> {
    await fs.rm(this.hostKeyPath, { force: true });
    await fs.rm(`${this.hostKeyPath}.pub`, { force: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `host-${this.name}`, '-f', this.hostKeyPath]);
  }

  async writeConfig(): Promise<void> {
    // sshd keeps the first value of a keyword: extra lines go first so they override the defaults
    const lines = [
      ...this.extraConfig,
      `ListenAddress ${this.address}:${this.port}`,
      `HostKey ${this.hostKeyPath}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.lab.authorizedKeysFile}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'MaxStartups 100:30:200',
      'LogLevel VERBOSE',
    ];
    await fs.writeFile(path.join(this.dir, 'sshd_config'), `${lines.join('\n')}\n`, { mode: 0o644 });
  }

  async start(): Promise<void> {
    const cfg = path.join(this.dir, 'sshd_config');
    const rootHome = path.join(this.dir, 'root-home');
    await fs.mkdir(rootHome, { recursive: true, mode: 0o700 });
    // In a private mount namespace, /root is a fresh empty directory for every session of this
    // sshd: the machine's own dotfiles (a shell hook in /root/.bashrc that can stall for a minute)
    // must not leak into tests. unshare and sh exec, so the PID is sshd's own.
    const argv = [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$1" /root && shift && exec "$@"',
      'sshd-wrapper',
      rootHome,
      SSHD,
      '-D',
      '-e',
      '-f',
      cfg,
    ];
    const full = this.netns ? ['ip', 'netns', 'exec', this.netns, ...argv] : argv;
    const proc = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    if (proc.pid) {
      const pid = proc.pid;
      livePids.add(pid);
      proc.once('exit', () => livePids.delete(pid));
    }
    let listening = false;
    proc.stderr!.on('data', (b: Buffer) => {
      this.stderr += b.toString('utf8');
      if (this.stderr.includes('Server listening on')) listening = true;
    });
    await waitFor(() => listening || proc.exitCode !== null, 10_000, `sshd ${this.name} listening`);
    if (!listening) throw new Error(`sshd ${this.name} did not start:\n${this.stderr}`);
  }

  async fingerprint(): Promise<string> {
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${this.hostKeyPath}.pub`]);
    const fp = stdout.split(/\s+/)[1];
    if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen output: ${stdout}`);
    return fp;
  }

  async regenerateHostKey(): Promise<void> {
    await this.stop();
    await this.generateHostKey();
    await this.start();
  }

  async killConnections(): Promise<number> {
    const victims = descendants(this.pid);
    for (const pid of victims) killPid(pid, 'SIGKILL');
    return victims.length;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
    for (const pid of descendants(proc.pid)) killPid(pid, 'SIGKILL');
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    killPid(proc.pid, 'SIGTERM');
    await Promise.race([exited, sleep(5_000).then(() => killPid(proc.pid!, 'SIGKILL'))]);
    await exited;
    this.proc = null;
  }

  log(): string {
    return this.stderr;
  }
}

/** Child processes of `pid`, recursively (read from /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // the comm field may hold spaces and parentheses: the ppid is the 2nd field after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

async function userExists(user: string): Promise<boolean> {
  try {
    await run('id', ['-u', user]);
    return true;
  } catch {
    return false;
  }
}

/** A port that is free on `address` right now. */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The KubiError a promise rejects with (fails the test when it resolves or throws anything else). */
export async function rejection(p: Promise<unknown>): Promise<KubiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KubiError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
