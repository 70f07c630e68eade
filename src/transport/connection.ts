/**
 * Opening ONE authenticated ssh2 connection to a resolved target: host key check against the
 * cluster's known_hosts (trust on first use, hard failure on a mismatch, never retried), bounded
 * retries with backoff while a host is still coming up (connection refused, timeouts, and a few
 * auth failures: sshd may start before the keys are in place), keepalive, and jump hosts (the
 * connection runs over a `forwardOut` stream of the hop in front, see JumpConnections).
 */
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as Ssh2Client, ConnectConfig } from 'ssh2';
import { KubiError } from '../errors.js';
import type { CommandLogSink } from './types.js';
import { planAuth, type KeyLoader } from './auth.js';
import {
  decideHostKey,
  fingerprintOf,
  hostKeyMismatchError,
  hostKeyUnknownError,
  keyTypeOfBlob,
  type HostKeyEvent,
  type HostKeyPolicy,
  type KnownHostsFile,
} from './known-hosts.js';
import { describeTarget, type ResolvedTarget } from './resolve.js';

export interface ConnectionOptions extends HostKeyPolicy {
  knownHosts: KnownHostsFile;
  keys: KeyLoader;
  /** told about every key recorded or replaced (the CLI prints the fingerprint) */
  onHostKey?: (e: HostKeyEvent) => void;
  /** for the forget-host hint in a mismatch error */
  inventoryPath?: string;
  /** retries after the first attempt for refused/unreachable/timeouts (default 5) */
  connectRetries?: number;
  /** retries after an authentication failure (default 2): a booting host may not have its keys yet */
  authRetries?: number;
  /** give up retrying once this much time has passed since the first attempt (default 60 s) */
  retryBudgetMs?: number;
  /** first backoff delay, doubled per retry up to 5 s (default 500 ms) */
  retryDelayMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  log?: CommandLogSink;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export const DEFAULTS = {
  connectRetries: 5,
  authRetries: 2,
  retryBudgetMs: 60_000,
  retryDelayMs: 500,
  keepaliveIntervalMs: 5_000,
  keepaliveCountMax: 3,
} as const;

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How a failed attempt is treated. */
type Failure =
  | { kind: 'fatal'; error: KubiError }
  | { kind: 'network'; reason: string; cause: unknown }
  | { kind: 'auth'; cause: unknown };

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);

/** Classify an ssh2/socket error (pure, exported for tests). */
export function classifyConnectError(err: unknown): Failure {
  const e = err as Error & { code?: string; level?: string; reason?: string | number };
  if (e instanceof KubiError) return { kind: 'fatal', error: e };
  if (e.level === 'client-authentication') return { kind: 'auth', cause: e };
  if (e.code && NETWORK_CODES.has(e.code)) return { kind: 'network', reason: describeCode(e.code), cause: e };
  if (e.level === 'client-timeout') return { kind: 'network', reason: 'timed out waiting for the ssh handshake', cause: e };
  if (/connection lost before handshake|closed before|socket hang up/i.test(e.message)) {
    return { kind: 'network', reason: 'the connection closed before the ssh handshake', cause: e };
  }
  if (/channel open failure/i.test(e.message)) {
    return { kind: 'network', reason: `the jump host could not reach it (${e.message.replace(/^\(SSH\)\s*/, '').toLowerCase()})`, cause: e };
  }
  if (e.level === 'client-dns' || e.code === 'ENOTFOUND') {
    return { kind: 'fatal', error: new KubiError('ssh-connect-failed', `cannot resolve the host name (${e.message})`, { hint: 'check the address in the inventory or HostName in ~/.ssh/config', cause: e }) };
  }
  return {
    kind: 'fatal',
    error: new KubiError('ssh-connect-failed', `ssh handshake failed: ${e.message.toLowerCase()}`, {
      hint: 'the server and the tool share no algorithm, or the server is not an ssh server',
      cause: e,
    }),
  };
}

function describeCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return code.toLowerCase();
  }
}

/** Server host key algorithms with the recorded key's type first (so a host with several keys shows the recorded one). */
export function hostKeyAlgorithmsFor(keyType: string): string[] {
  const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  const first = keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [keyType];
  return [...first.filter((a) => all.includes(a)), ...all.filter((a) => !first.includes(a))];
}

/** Opens the stream a connection runs over (a jump host's forwardOut), or undefined for plain TCP. */
export type SockFactory = () => Promise<Duplex>;

/**
 * Connect, authenticate and return a ready ssh2 Client. Errors: host-key-mismatch / host-key-unknown
 * (at once), ssh-auth-failed, ssh-connect-failed, ssh-key (all name the host).
 */
export async function openConnection(t: ResolvedTarget, opts: ConnectionOptions, sockFactory?: SockFactory): Promise<Ssh2Client> {
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const connectRetries = opts.connectRetries ?? DEFAULTS.connectRetries;
  const authRetries = opts.authRetries ?? DEFAULTS.authRetries;
  const budget = opts.retryBudgetMs ?? DEFAULTS.retryBudgetMs;
  const auth = await planAuth(t, opts.keys);
  const started = now();
  let delay = opts.retryDelayMs ?? DEFAULTS.retryDelayMs;
  let networkFailures = 0;
  let authFailures = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await attempt(t, opts, auth.methods, sockFactory);
    } catch (err) {
      const f = classifyConnectError(err);
      if (f.kind === 'fatal') throw withHost(f.error, t.name);
      const outOfTime = now() - started + delay > budget;
      if (f.kind === 'auth') {
        authFailures++;
        if (authFailures > authRetries || outOfTime) {
          throw new KubiError('ssh-auth-failed', `ssh authentication failed for ${describeTarget(t)} (offered ${auth.offered.join(', ')})`, {
            host: t.name,
            hint: `check ssh.user and ssh.privateKey in the inventory, and that the public key is in the authorized_keys of ${t.user} on the host`,
            cause: f.cause,
          });
        }
      } else {
        networkFailures++;
        if (networkFailures > connectRetries || outOfTime) {
          throw new KubiError('ssh-connect-failed', `cannot connect to ${describeTarget(t)}: ${f.reason} (${attempts} attempt${attempts === 1 ? '' : 's'})`, {
            host: t.name,
            hint: 'check that the host is up and sshd runs, and the address, ssh.port and ssh.jumpHost in the inventory',
            cause: f.cause,
          });
        }
      }
      opts.log?.event(t.name, `ssh connect attempt ${attempts} failed (${f.kind === 'auth' ? 'authentication refused' : f.reason}); retrying in ${delay} ms`);
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

function withHost(e: KubiError, host: string): KubiError {
  return e.withContext({ host });
}

async function attempt(
  t: ResolvedTarget,
  opts: ConnectionOptions,
  methods: NonNullable<ConnectConfig['authHandler']>,
  sockFactory?: SockFactory,
): Promise<Ssh2Client> {
  const recorded = await opts.knownHosts.lookup(t.name);
  const sock = sockFactory ? await sockFactory() : undefined;
  return new Promise<Ssh2Client>((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyError: KubiError | null = null;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      sock?.destroy();
      reject(hostKeyError ?? err);
    };
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.on('error', fail);
    client.once('close', () => fail(Object.assign(new Error('connection lost before handshake'), { level: 'client-socket' })));

    const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
      checkHostKey(t, key, recorded, opts).then(
        () => verify(true),
        (e: unknown) => {
          hostKeyError = e instanceof KubiError ? e : new KubiError('host-key-check-failed', `cannot check the host key of ${t.name}: ${(e as Error).message}`, { host: t.name, cause: e });
          verify(false);
        },
      );
    };

    const config: ConnectConfig = {
      host: t.connectHost,
      port: t.port,
      username: t.user,
      readyTimeout: t.connectTimeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
      authHandler: methods,
      hostVerifier: hostVerifier as ConnectConfig['hostVerifier'],
    };
    if (sock) config.sock = sock;
    if (recorded) config.algorithms = { serverHostKey: hostKeyAlgorithmsFor(recorded.keyType) as never };
    try {
      client.connect(config);
    } catch (e) {
      fail(e);
    }
  });
}

async function checkHostKey(
  t: ResolvedTarget,
  blob: Buffer,
  recorded: Awaited<ReturnType<KnownHostsFile['lookup']>>,
  opts: ConnectionOptions,
): Promise<void> {
  const keyType = keyTypeOfBlob(blob);
  if (!keyType) throw new KubiError('host-key-check-failed', `${t.name} presented a host key the tool cannot read`, { host: t.name });
  const presented = { keyType, keyBase64: blob.toString('base64') };
  // look again: another connection of this run may have recorded it meanwhile
  const current = (await opts.knownHosts.lookup(t.name)) ?? recorded;
  const decision = decideHostKey(current, presented, opts);
  const fingerprint = fingerprintOf(blob);
  const file = opts.knownHosts.path;
  const entry = { name: t.name, address: t.connectHost, port: t.port, ...presented };
  switch (decision.kind) {
    case 'trusted':
      if (current && (current.address !== t.connectHost || current.port !== t.port)) await opts.knownHosts.upsert(entry);
      return;
    case 'record':
      await opts.knownHosts.upsert(entry);
      opts.log?.event(t.name, `recorded host key ${keyType} ${fingerprint} in ${file}`);
      opts.onHostKey?.({ kind: 'recorded', host: t.name, address: t.connectHost, port: t.port, keyType, fingerprint, file });
      return;
    case 'replace': {
      await opts.knownHosts.upsert(entry);
      const previousFingerprint = fingerprintOf(decision.previous.keyBase64);
      opts.log?.event(t.name, `host key CHANGED and replaced (acceptChangedHostKeys): was ${decision.previous.keyType} ${previousFingerprint}, now ${keyType} ${fingerprint}`);
      opts.onHostKey?.({
        kind: 'replaced',
        host: t.name,
        address: t.connectHost,
        port: t.port,
        keyType,
        fingerprint,
        previousKeyType: decision.previous.keyType,
        previousFingerprint,
        file,
      });
      return;
    }
    case 'refuse-unknown':
      throw hostKeyUnknownError({ host: t.name, address: t.connectHost, port: t.port, keyType, fingerprint, file });
    case 'refuse-mismatch':
      throw hostKeyMismatchError({
        host: t.name,
        address: t.connectHost,
        port: t.port,
        recorded: decision.previous,
        presented,
        file,
        ...(opts.inventoryPath ? { inventoryPath: opts.inventoryPath } : {}),
      });
  }
}

/**
 * Connections to jump hosts, shared by every target behind the same hop (one connection per hop
 * for the whole run). A hop that dies is reopened by the next target that needs it.
 */
export class JumpConnections {
  private readonly clients = new Map<string, Promise<Ssh2Client>>();
  private opened = 0;

  constructor(private readonly opts: ConnectionOptions) {}

  get connections(): number {
    return this.opened;
  }

  /** A SockFactory for `t` when it has a jump host; undefined otherwise. */
  sockFactoryFor(t: ResolvedTarget): SockFactory | undefined {
    const hop = t.jump;
    if (!hop) return undefined;
    return async () => {
      const client = await this.clientFor(hop);
      return new Promise<Duplex>((resolve, reject) => {
        client.forwardOut('127.0.0.1', 0, t.connectHost, t.port, (err, stream) => (err ? reject(err) : resolve(stream)));
      });
    };
  }

  private clientFor(hop: ResolvedTarget): Promise<Ssh2Client> {
    const key = `${hop.name}|${hop.user}@${hop.connectHost}:${hop.port}|${hop.jump ? describeTarget(hop.jump) : ''}`;
    let p = this.clients.get(key);
    if (!p) {
      p = openConnection(hop, this.opts, this.sockFactoryFor(hop)).then((client) => {
        this.opened++;
        const forget = () => {
          if (this.clients.get(key) === p) this.clients.delete(key);
        };
        client.on('close', forget);
        client.on('error', forget);
        return client;
      });
      this.clients.set(key, p);
      p.catch(() => this.clients.delete(key));
    }
    return p;
  }

  closeAll(): void {
    for (const p of this.clients.values()) p.then((c) => c.end(), () => {});
    this.clients.clear();
  }
}
