/**
 * SshHost: the real RemoteHost. ONE ssh2 connection per host for the whole run, many exec
 * channels over it (at most `maxChannels` at once: sshd allows 10 sessions per connection by
 * default), every command built from an argv by shellQuote, sudo for non-root users, per-command
 * timeouts, atomic file upload with checksum skip, and a hard stop when the connection dies:
 * every in-flight and later command fails at once with `connection-lost` naming the host.
 * `reconnect()` replaces the dead (or live) connection by a new one to the same target with the
 * same auth and host-key policy (used after a reboot, see reboot.ts).
 *
 * Logging: every channel is written to the CommandLogSink (redacted); file contents and getFile
 * output never are.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Client as Ssh2Client, ClientChannel } from 'ssh2';
import { KubiError } from '../errors.js';
import { redactor as globalRedactor, type Redactor } from '../redact.js';
import { KeyLoader, type PassphrasePrompt } from './auth.js';
import { BatchQueue, batchProgram, parseBatchOutput, type BatchItem } from './batch.js';
import { JumpConnections, openConnection, type ConnectionOptions } from './connection.js';
import { commandTimeoutError, connectionLostError, formatMs, RemoteCommandError } from './errors.js';
import { KnownHostsFile } from './known-hosts.js';
import { shellQuote } from './quote.js';
import {
  chownSpec,
  GET_MISSING_EXIT,
  GET_MISSING_MARK,
  getArgv,
  modeString,
  PUT_MARK,
  putArgv,
  scriptArgv,
  scriptPayload,
  sudoNoPasswordArgv,
  sudoPasswordArgv,
  withRemoteTimeout,
} from './remote-scripts.js';
import { describeTarget, resolveTarget, type ResolvedTarget } from './resolve.js';
import { parseSshConfig, type ParsedSshConfig } from './ssh-config.js';
import { Semaphore } from './semaphore.js';
import type { SshTarget } from './targets.js';
import type {
  CommandLogSink,
  ExecOptions,
  ExecResult,
  PutFileOptions,
  PutFileResult,
  ReconnectOptions,
  RemoteHost,
  TransportStats,
} from './types.js';

export const DEFAULT_MAX_CHANNELS = 8;
/** How long reconnect() keeps trying by default (a rebooting host). */
export const DEFAULT_RECONNECT_TIMEOUT_MS = 300_000;
/** batched() views: calls arriving within this window of the first travel together */
const BATCH_WINDOW_MS = 3;
const BATCH_MAX_ITEMS = 64;
/** attempts to open a channel the server refused for lack of free sessions (about 5 s in all) */
const OPEN_ATTEMPTS = 15;

export type SudoPasswordPrompt = (host: string) => Promise<string | null | undefined>;

export interface TransportOptions extends Omit<ConnectionOptions, 'knownHosts' | 'keys'> {
  /** the cluster's state directory: host keys live in <stateDir>/known_hosts */
  stateDir?: string;
  /** or the known_hosts file itself (wins over stateDir) */
  knownHosts?: KnownHostsFile;
  /** shared key cache (the pool passes one so a passphrase is asked once per run) */
  keys?: KeyLoader;
  /** environment: KUBI_SSH_PASSPHRASE, KUBI_SUDO_PASSWORD, SSH_AUTH_SOCK, HOME, USER (default process.env) */
  env?: NodeJS.ProcessEnv;
  promptPassphrase?: PassphrasePrompt;
  /** asked when sudo needs a password and neither sudoPassword nor KUBI_SUDO_PASSWORD is set */
  promptSudoPassword?: SudoPasswordPrompt;
  sudoPassword?: string;
  /** ~/.ssh/config by default (read only for targets with useSshConfig) */
  sshConfigPath?: string;
  /** an already parsed config (wins over sshConfigPath) */
  sshConfig?: ParsedSshConfig | null;
  /** shared jump host connections (the pool passes one) */
  jumps?: JumpConnections;
  /** exec channels open at once per connection (default 8) */
  maxChannels?: number;
  redactor?: Redactor;
}

interface ChannelSpec {
  /** sent to sshd */
  commandLine: string;
  /** pasteable form for logs and errors (not yet redacted) */
  display: string;
  stdin?: Buffer;
  /** write `data` and close stdin once stdout shows the line `token` (putFile) */
  sendOnToken?: { token: string; data: Buffer };
  sudoPassword?: { prompt: string; started: string; password: string };
  timeoutMs: number;
}

interface RawResult {
  /** the pasteable command as it ran (with its sudo prefix), not yet redacted */
  display: string;
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  bytesSent: number;
}

interface CommandSpec {
  argv: string[];
  display: string;
  sudo: boolean;
  stdin?: Buffer;
  sendOnToken?: { token: string; data: Buffer };
  timeoutMs: number;
  label?: string;
  mutating: boolean;
  /** log a placeholder instead of stdout (file contents) */
  hideStdout?: boolean;
  /** what the log shows as the command, when it differs from display (scripts) */
  logCommand?: string;
  /** the caller logs (a batch logs each of its commands instead of itself) */
  noLog?: boolean;
}

/** One command waiting in a batched() view's queue. */
interface QueuedCommand {
  spec: CommandSpec;
  item: BatchItem;
}

type SudoMode = 'nopasswd' | 'password';

const SUDO_NEEDS_PASSWORD = /^sudo: (a password is required|a terminal is required|no tty present)/m;
const SUDO_MISSING = /sudo: (command )?not found/;

export function sudoNeedsPassword(exitCode: number, stderr: string): boolean {
  return exitCode === 1 && SUDO_NEEDS_PASSWORD.test(stderr);
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function exitCodeOf(code: number | null | undefined, signal: string | null | undefined): number | null {
  if (typeof code === 'number') return code;
  if (signal) {
    const n = (osConstants.signals as Record<string, number>)[`SIG${signal}`] ?? (osConstants.signals as Record<string, number>)[signal];
    return 128 + (n ?? 0);
  }
  return null;
}

export class SshHost implements RemoteHost {
  readonly name: string;
  readonly address: string;
  readonly isRoot: boolean;
  /** login user */
  readonly user: string;
  readonly target: ResolvedTarget;

  private channels: Semaphore;
  private client: Ssh2Client;
  private reconnecting: Promise<void> | null = null;
  private readonly inflight = new Set<(err: KubiError) => void>();
  private lost: KubiError | null = null;
  private closedByUs = false;
  private sudoMode: SudoMode = 'nopasswd';
  private sudoPasswordPromise: Promise<string | null> | null = null;
  private readonly counters: TransportStats = { connections: 1, roundTrips: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly redactor: Redactor;
  private readonly log: CommandLogSink | undefined;

  private constructor(
    client: Ssh2Client,
    target: ResolvedTarget,
    private readonly opts: TransportOptions,
    /** what openConnection needs again on reconnect: known_hosts, keys, host-key policy, retries */
    private readonly connOpts: ConnectionOptions,
    private readonly ownedJumps: JumpConnections | null,
    private readonly jumps: JumpConnections | null,
  ) {
    this.client = client;
    this.target = target;
    this.name = target.name;
    this.address = target.address;
    this.user = target.user;
    this.isRoot = target.user === 'root';
    this.channels = new Semaphore(opts.maxChannels ?? DEFAULT_MAX_CHANNELS);
    this.redactor = opts.redactor ?? globalRedactor;
    this.log = opts.log;
    this.watch(client);
  }

  /** Connection loss of `client` fails the commands, but only while it is the current one. */
  private watch(client: Ssh2Client): void {
    const lostIfCurrent = (detail: string) => {
      if (client === this.client) this.markLost(detail);
    };
    client.on('error', (e: Error) => lostIfCurrent(e.message.toLowerCase()));
    client.on('end', () => lostIfCurrent('the server closed the connection'));
    client.on('close', () => lostIfCurrent('the connection closed'));
  }

  /** Resolve, connect and authenticate (see connection.ts for retries and host keys). */
  static async connect(target: SshTarget, opts: TransportOptions): Promise<SshHost> {
    const env = opts.env ?? process.env;
    const knownHosts = opts.knownHosts ?? (opts.stateDir ? KnownHostsFile.forStateDir(opts.stateDir) : null);
    if (!knownHosts) throw new KubiError('internal', 'the ssh transport needs a state directory or a known_hosts file');
    const redactor = opts.redactor ?? globalRedactor;
    const keys =
      opts.keys ??
      new KeyLoader({ env, redactor, ...(opts.promptPassphrase ? { promptPassphrase: opts.promptPassphrase } : {}) });
    const sshConfig = target.useSshConfig ? (opts.sshConfig !== undefined ? opts.sshConfig : await readSshConfig(opts, env)) : null;
    const resolved = resolveTarget(target, {
      sshConfig,
      home: env.HOME ?? os.homedir(),
      localUser: env.USER ?? os.userInfo().username,
      agentSocket: env.SSH_AUTH_SOCK,
    });
    const connOpts: ConnectionOptions = { ...opts, knownHosts, keys };
    const ownedJumps = opts.jumps ? null : resolved.jump ? new JumpConnections(connOpts) : null;
    const jumps = opts.jumps ?? ownedJumps;
    try {
      const client = await openConnection(resolved, connOpts, jumps?.sockFactoryFor(resolved));
      opts.log?.event(resolved.name, `connected to ${resolved.user}@${resolved.connectHost}:${resolved.port}${resolved.jump ? ` via ${resolved.jump.name}` : ''}`);
      return new SshHost(client, resolved, { ...opts, env, redactor }, connOpts, ownedJumps, jumps ?? null);
    } catch (e) {
      ownedJumps?.closeAll();
      throw e;
    }
  }

  /** true until the connection is lost or closed */
  get connected(): boolean {
    return this.lost === null && !this.closedByUs;
  }

  stats(): TransportStats {
    return { ...this.counters, connections: this.counters.connections + (this.ownedJumps?.connections ?? 0) };
  }

  /**
   * Close the current connection (in-flight commands fail with connection-lost) and open a new
   * one to the same target, retrying refused/unreachable/timed-out attempts with backoff until
   * `timeoutMs`. Host-key mismatches and other fatal errors are thrown at once, unchanged.
   * Concurrent calls share one attempt. Not allowed after close().
   */
  reconnect(opts: ReconnectOptions = {}): Promise<void> {
    if (this.closedByUs) {
      return Promise.reject(new KubiError('connection-closed', `the connection to ${this.name} was closed`, { host: this.name, hint: 'this is a bug: reconnect() after the run closed its connections' }));
    }
    if (!this.reconnecting) {
      this.reconnecting = this.doReconnect(opts).finally(() => {
        this.reconnecting = null;
      });
    }
    return this.reconnecting;
  }

  private async doReconnect(opts: ReconnectOptions): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
    const why = opts.reason ?? 'reconnect';
    const old = this.client;
    if (!this.lost) this.markLost(`closed to reconnect (${why})`);
    old.removeAllListeners('ready');
    old.on('error', () => {});
    old.end();
    this.opts.log?.event(this.name, `reconnecting (${why}), for up to ${formatMs(timeoutMs)}`);
    let client: Ssh2Client;
    try {
      client = await openConnection(
        this.target,
        {
          ...this.connOpts,
          // network failures are retried until the deadline; auth failures keep their own small limit
          connectRetries: Number.MAX_SAFE_INTEGER,
          retryBudgetMs: timeoutMs,
        },
        this.jumps?.sockFactoryFor(this.target),
      );
    } catch (e) {
      if (e instanceof KubiError && e.code === 'ssh-connect-failed' && /^cannot connect to /.test(e.message)) {
        const prefix = `cannot connect to ${describeTarget(this.target)}: `;
        const last = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
        throw new KubiError(
          'reconnect-timeout',
          `timed out after ${formatMs(timeoutMs)} waiting for ${describeTarget(this.target)} to accept ssh again (${why}); last error: ${last}`,
          {
            host: this.name,
            hint: `check that ${this.name} is up (its console) and sshd runs; when it answers again, run again`,
            cause: e,
          },
        );
      }
      throw e;
    }
    if (this.closedByUs) {
      // close() was called while we were reconnecting
      client.end();
      throw this.lost ?? new KubiError('connection-closed', `the connection to ${this.name} was closed`, { host: this.name });
    }
    this.client = client;
    this.channels = new Semaphore(this.opts.maxChannels ?? DEFAULT_MAX_CHANNELS);
    this.lost = null;
    this.counters.connections++;
    this.watch(client);
    this.opts.log?.event(this.name, `reconnected to ${describeTarget(this.target)}`);
  }

  /** Close the connection (in-flight commands fail with connection-lost). */
  close(): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    this.markLost('closed by kubi-provision');
    this.client.end();
    this.ownedJumps?.closeAll();
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const spec = this.execSpec(argv, opts);
    return this.finishExec(await this.runCommand(spec), spec, opts);
  }

  async script(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const spec = this.scriptSpec(script, opts);
    return this.finishExec(await this.runCommand(spec), spec, opts);
  }

  private execSpec(argv: readonly string[], opts: ExecOptions): CommandSpec {
    if (argv.length === 0) throw new KubiError('internal', 'exec needs a command (the argv is empty)', { host: this.name });
    const display = shellQuote(argv);
    const spec: CommandSpec = {
      argv: [...argv],
      display,
      sudo: this.useSudo(opts.sudo),
      timeoutMs: opts.timeoutMs ?? this.target.commandTimeoutMs,
      mutating: opts.mutating ?? true,
    };
    if (opts.stdin !== undefined) spec.stdin = toBuffer(opts.stdin);
    if (opts.label !== undefined) spec.label = opts.label;
    if (opts.secret) spec.logCommand = `${display} (secret)`;
    return spec;
  }

  private scriptSpec(script: string, opts: ExecOptions): CommandSpec {
    if (opts.stdin !== undefined) throw new KubiError('internal', 'script() sends the script on stdin: it takes no other stdin');
    const lines = script.split('\n').length;
    const display = `bash -s (script${opts.label ? ` "${opts.label}"` : ''}, ${lines} line${lines === 1 ? '' : 's'})`;
    const spec: CommandSpec = {
      argv: scriptArgv(),
      display,
      sudo: this.useSudo(opts.sudo),
      stdin: Buffer.from(scriptPayload(script), 'utf8'),
      timeoutMs: opts.timeoutMs ?? this.target.commandTimeoutMs,
      mutating: opts.mutating ?? true,
      logCommand: opts.secret ? `${display} (secret)` : `bash -s <<'KUBI-SCRIPT'\n${script}\nKUBI-SCRIPT`,
    };
    if (opts.label !== undefined) spec.label = opts.label;
    return spec;
  }

  private getSpec(remotePath: string, opts: { sudo?: boolean }): CommandSpec {
    return {
      argv: getArgv(remotePath),
      display: `cat ${shellQuote([remotePath])}`,
      sudo: this.useSudo(opts.sudo),
      timeoutMs: this.target.commandTimeoutMs,
      mutating: false,
      label: `read ${remotePath}`,
      hideStdout: true,
    };
  }

  private getResult(spec: CommandSpec, r: RawResult): Buffer | null {
    if (r.exitCode === 0) return r.stdout;
    if (r.exitCode === GET_MISSING_EXIT && r.stderr.toString('utf8').includes(GET_MISSING_MARK)) return null;
    throw this.commandError(spec, r, r.exitCode);
  }

  /**
   * A view for read-only work (RemoteHost.batched): exec, script and getFile calls made within a
   * few milliseconds of each other run side by side on the host in ONE round trip (batch.ts);
   * each is still logged as its own command and fails or succeeds on its own. Calls with stdin or
   * a secret command line, putFile and reconnect go through this host unbatched.
   */
  batched(): RemoteHost {
    const queue = new BatchQueue<QueuedCommand, RawResult>((key, items) => this.runBatch(key === 'sudo', items), {
      windowMs: BATCH_WINDOW_MS,
      maxItems: BATCH_MAX_ITEMS,
    });
    const enqueue = (spec: CommandSpec, item: BatchItem): Promise<RawResult> => queue.add(spec.sudo ? 'sudo' : 'plain', { spec, item });
    return {
      name: this.name,
      address: this.address,
      isRoot: this.isRoot,
      exec: async (argv, opts = {}) => {
        if (opts.stdin !== undefined || opts.secret) return this.exec(argv, opts);
        const spec = this.execSpec(argv, opts);
        return this.finishExec(await enqueue(spec, { kind: 'line', line: shellQuote(spec.argv) }), spec, opts);
      },
      script: async (script, opts = {}) => {
        if (opts.stdin !== undefined || opts.secret) return this.script(script, opts);
        const spec = this.scriptSpec(script, opts);
        return this.finishExec(await enqueue(spec, { kind: 'script', script }), spec, opts);
      },
      getFile: async (remotePath, opts = {}) => {
        const spec = this.getSpec(remotePath, opts);
        return this.getResult(spec, await enqueue(spec, { kind: 'line', line: shellQuote(spec.argv) }));
      },
      putFile: (p, content, opts) => this.putFile(p, content, opts),
      reconnect: (opts) => this.reconnect(opts),
      stats: () => this.stats(),
    };
  }

  /** Run a batched() view's queued commands in one round trip; log each as its own command. */
  private async runBatch(sudo: boolean, queued: readonly QueuedCommand[]): Promise<RawResult[]> {
    const tag = `KUBI-BATCH-${randomBytes(6).toString('hex')}`;
    const timeouts = queued.map((q) => q.spec.timeoutMs);
    const spec: CommandSpec = {
      argv: scriptArgv(),
      display: `bash -s (${queued.length} read-only commands in one batch)`,
      sudo,
      stdin: Buffer.from(scriptPayload(batchProgram(queued.map((q) => q.item), tag)), 'utf8'),
      // the longest of its commands' timeouts, enforced on the host too (runCommand); when it
      // fires every command of the batch fails, and each then runs again on its own
      timeoutMs: timeouts.some((t) => !(t > 0)) ? 0 : Math.max(...timeouts),
      mutating: queued.some((q) => q.spec.mutating),
      hideStdout: true,
      noLog: true,
    };
    let r: RawResult;
    try {
      r = await this.runCommand(spec);
    } catch (e) {
      this.log?.event(this.name, `a batch of ${queued.length} read-only commands failed: ${this.redactor.redact(e instanceof Error ? e.message : String(e))}`);
      throw e;
    }
    if (r.exitCode !== 0) throw this.commandError(spec, r, r.exitCode);
    const parsed = parseBatchOutput(r.stdout, tag, queued.length);
    this.log?.event(this.name, `${queued.length} read-only commands in one round trip (${formatMs(r.durationMs)})`);
    const prefix = !sudo ? null : this.sudoMode === 'password' ? 'sudo --' : 'sudo -n --';
    return parsed.map((p, i) => {
      const s = prefix ? withPrefix(queued[i]!.spec, prefix) : queued[i]!.spec;
      this.logCommand(s, { ...p, durationMs: r.durationMs });
      return { display: s.display, exitCode: p.exitCode, stdout: p.stdout, stderr: p.stderr, durationMs: r.durationMs, bytesSent: 0 };
    });
  }

  async putFile(remotePath: string, content: string | Buffer, opts: PutFileOptions = {}): Promise<PutFileResult> {
    if (!path.posix.isAbsolute(remotePath)) {
      throw new KubiError('internal', `putFile needs an absolute path, got "${remotePath}"`, { host: this.name });
    }
    const data = toBuffer(content);
    const mode = opts.mode ?? 0o644;
    const owner = chownSpec(opts.owner, opts.group);
    const display = `put ${remotePath} (mode ${modeString(mode).padStart(4, '0')}${owner ? `, owner ${owner}` : ''}, ${data.length} bytes)`;
    const argv = putArgv({
      path: remotePath,
      mode,
      ...(opts.owner ? { owner: opts.owner } : {}),
      ...(opts.group ? { group: opts.group } : {}),
      sha256: sha256Hex(data),
      size: data.length,
      skipIfSame: opts.skipIfSame ?? true,
    });
    const spec: CommandSpec = {
      argv,
      display,
      sudo: this.useSudo(undefined),
      sendOnToken: { token: PUT_MARK.send, data },
      timeoutMs: this.target.commandTimeoutMs,
      mutating: true,
      label: `write ${remotePath}`,
    };
    const r = await this.runCommand(spec);
    const out = r.stdout.toString('utf8');
    if (r.exitCode !== 0 || !(out.includes(PUT_MARK.same) || out.includes(PUT_MARK.meta) || out.includes(PUT_MARK.done))) {
      throw this.commandError(spec, r, r.exitCode === 0 ? 1 : r.exitCode);
    }
    return { path: remotePath, changed: !out.includes(PUT_MARK.same), bytesSent: r.bytesSent };
  }

  async getFile(remotePath: string, opts: { sudo?: boolean } = {}): Promise<Buffer | null> {
    const spec = this.getSpec(remotePath, opts);
    return this.getResult(spec, await this.runCommand(spec));
  }

  // ---- internals ----

  private useSudo(requested: boolean | undefined): boolean {
    return (requested ?? this.target.sudo) && !this.isRoot;
  }

  private finishExec(r: RawResult, spec: CommandSpec, opts: ExecOptions): ExecResult {
    const result: ExecResult = {
      command: this.redactor.redact(r.display),
      exitCode: r.exitCode,
      stdout: this.redactor.redact(r.stdout.toString('utf8')),
      stderr: this.redactor.redact(r.stderr.toString('utf8')),
      durationMs: r.durationMs,
    };
    if (r.exitCode !== 0 && !opts.allowFailure) throw this.commandError(spec, r, r.exitCode);
    return result;
  }

  private commandError(spec: CommandSpec, r: RawResult, exitCode: number): RemoteCommandError {
    return new RemoteCommandError({
      host: this.name,
      command: this.redactor.redact(r.display),
      exitCode,
      stderr: this.redactor.redact(r.stderr.toString('utf8')),
      stdout: spec.hideStdout ? '' : this.redactor.redact(r.stdout.toString('utf8')),
      ...(spec.label ? { label: spec.label } : {}),
    });
  }

  /** Run one command with the host's sudo mode; switch to password mode when sudo asks for one. */
  private async runCommand(spec: CommandSpec): Promise<RawResult> {
    const argv = withRemoteTimeout(spec.argv, spec.timeoutMs);
    if (!spec.sudo) return this.runLogged(spec, { ...channelBase(spec), commandLine: shellQuote(argv) });
    let sent = 0;
    if (this.sudoMode === 'nopasswd') {
      const run = withPrefix(spec, 'sudo -n --');
      const r = await this.runLogged(run, { ...channelBase(run), commandLine: shellQuote(sudoNoPasswordArgv(argv)) });
      const stderr = r.stderr.toString('utf8');
      if (r.exitCode === 127 && SUDO_MISSING.test(stderr)) {
        throw new KubiError('sudo-missing', `sudo is not installed on ${this.name}`, {
          host: this.name,
          hint: `install sudo on ${this.name}, or log in as root (ssh.user: root)`,
        });
      }
      if (!sudoNeedsPassword(r.exitCode, stderr)) return r;
      // sudo refused before running anything: safe to run the same command again with a password
      if ((await this.sudoPassword()) === null) {
        throw new KubiError('sudo-password-required', `sudo on ${this.name} needs a password`, {
          host: this.name,
          hint: `allow ${this.user} to run sudo without a password (a NOPASSWD rule in /etc/sudoers.d/), or set KUBI_SUDO_PASSWORD`,
        });
      }
      this.sudoMode = 'password';
      sent = r.bytesSent;
    }
    const password = await this.sudoPassword();
    if (password === null) throw new KubiError('internal', 'the sudo password is no longer available');
    const tag = randomBytes(8).toString('hex');
    const markers = { prompt: `[kubi-sudo-prompt-${tag}]`, started: `[kubi-sudo-started-${tag}]` };
    const run = withPrefix(spec, 'sudo --');
    const r = await this.runLogged(run, {
      ...channelBase(run),
      commandLine: shellQuote(sudoPasswordArgv(argv, markers)),
      sudoPassword: { ...markers, password },
    });
    return { ...r, bytesSent: r.bytesSent + sent };
  }

  private sudoPassword(): Promise<string | null> {
    if (!this.sudoPasswordPromise) {
      const fromOpts = this.opts.sudoPassword ?? this.opts.env?.KUBI_SUDO_PASSWORD;
      const p: Promise<string | null> = fromOpts
        ? Promise.resolve(fromOpts)
        : this.opts.promptSudoPassword
          ? this.opts.promptSudoPassword(this.name).then((v) => v || null)
          : Promise.resolve(null);
      this.sudoPasswordPromise = p.then((v) => {
        if (v) this.redactor.add(v, 'sudo password');
        return v;
      });
    }
    return this.sudoPasswordPromise;
  }

  private async runLogged(spec: CommandSpec, channel: ChannelSpec): Promise<RawResult> {
    if (spec.noLog) return this.runChannel(channel);
    const started = Date.now();
    try {
      const r = await this.runChannel(channel);
      this.logCommand(spec, r);
      return r;
    } catch (e) {
      this.log?.command({
        host: this.name,
        command: this.redactor.redact(spec.logCommand ?? spec.display),
        exitCode: null,
        durationMs: Date.now() - started,
        stdout: '',
        stderr: this.redactor.redact(e instanceof Error ? e.message : String(e)),
        mutating: spec.mutating,
        ...(spec.label ? { label: spec.label } : {}),
      });
      throw e;
    }
  }

  /** One finished command in the run log (redacted; file contents never). */
  private logCommand(spec: CommandSpec, r: { exitCode: number; durationMs: number; stdout: Buffer; stderr: Buffer }): void {
    this.log?.command({
      host: this.name,
      command: this.redactor.redact(spec.logCommand ?? spec.display),
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      stdout: spec.hideStdout ? `<${r.stdout.length} bytes not logged>` : this.redactor.redact(r.stdout.toString('utf8')),
      stderr: this.redactor.redact(r.stderr.toString('utf8')),
      mutating: spec.mutating,
      ...(spec.label ? { label: spec.label } : {}),
    });
  }

  private markLost(detail: string): void {
    if (this.lost) return;
    this.lost = this.closedByUs
      ? new KubiError('connection-closed', `the connection to ${this.name} was closed`, { host: this.name, hint: 'this is a bug: a command ran after the run closed its connections' })
      : connectionLostError(this.name, detail);
    if (!this.closedByUs) this.log?.event(this.name, `ssh connection lost: ${detail}`);
    this.channels.fail(this.lost);
    for (const fail of [...this.inflight]) fail(this.lost);
  }

  /**
   * Open an exec channel and hand it to `wire` synchronously, inside ssh2's callback: a fast
   * command's exit status can arrive in the same read as the open confirmation, and ssh2 emits
   * 'exit' right away, so listeners attached a tick later would miss it.
   *
   * sshd frees a session only after it has processed our reply to its close, so right after a
   * burst of commands ends it may still count them and refuse a new session ("open failed")
   * although fewer than maxChannels are open on our side: that is retried briefly.
   */
  private async openChannel(commandLine: string, wire: (ch: ClientChannel) => void): Promise<void> {
    let delay = 10;
    for (let attempt = 1; ; attempt++) {
      if (this.lost) throw this.lost;
      try {
        await new Promise<void>((resolve, reject) => {
          try {
            this.client.exec(commandLine, (err, ch) => {
              if (err) return reject(err);
              wire(ch);
              resolve();
            });
          } catch (e) {
            reject(this.lost ?? connectionLostError(this.name, e instanceof Error ? e.message.toLowerCase() : String(e)));
          }
        });
        return;
      } catch (e) {
        if (e instanceof KubiError) throw e;
        if (this.lost) throw this.lost;
        const err = e as Error & { reason?: number };
        if (err.reason === 2 && attempt < OPEN_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 500);
          continue;
        }
        throw new KubiError('ssh-channel-failed', `cannot open a command channel on ${this.name}: ${err.message.toLowerCase()}`, {
          host: this.name,
          hint: "the ssh server refused a new session (its MaxSessions is below the tool's maxChannels?); lower maxChannels or raise MaxSessions",
          cause: e,
        });
      }
    }
  }

  /** One exec channel: the round trip every operation costs. */
  private async runChannel(spec: ChannelSpec): Promise<RawResult> {
    if (this.lost) throw this.lost;
    const release = await this.channels.acquire();
    this.counters.roundTrips++;
    let bytesSent = Buffer.byteLength(spec.commandLine);
    this.counters.bytesSent += bytesSent;
    const count = (n: number) => {
      bytesSent += n;
      this.counters.bytesSent += n;
    };
    const started = Date.now();
    return new Promise<RawResult>((resolve, reject) => {
      let done = false;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let exitCode: number | null = null;
      let flushBeforeClose: (() => void) | null = null;

      const finish = (fn: () => void, releaseNow = true) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.inflight.delete(onLost);
        if (releaseNow) release();
        fn();
      };
      const onLost = (err: KubiError) => finish(() => reject(err));
      this.inflight.add(onLost);
      let timer: NodeJS.Timeout | undefined;

      /** Everything about the open channel, attached synchronously (see openChannel). */
      const wire = (ch: ClientChannel) => {
        timer = !(spec.timeoutMs > 0)
          ? undefined
          : setTimeout(() => {
              finish(() => {
                signalChannel(ch, 'TERM');
                // the slot is free once the server confirms the close (or after a grace period)
                const grace = setTimeout(release, 5_000);
                ch.once('close', () => {
                  clearTimeout(grace);
                  release();
                });
                try {
                  ch.close();
                } catch {
                  release();
                }
                reject(commandTimeoutError(this.name, spec.display, spec.timeoutMs));
              }, false);
            }, spec.timeoutMs);

        const startStdin = () => {
          if (spec.stdin !== undefined) {
            count(spec.stdin.length);
            ch.end(spec.stdin);
          } else if (spec.sendOnToken) {
            const { token, data } = spec.sendOnToken;
            let seen = '';
            const onData = (chunk: Buffer) => {
              seen += chunk.toString('latin1');
              if (seen.includes(`${token}\n`)) {
                ch.stdout.off('data', onData);
                count(data.length);
                ch.end(data);
              } else if (seen.length > 4 * token.length) seen = seen.slice(-2 * token.length);
            };
            ch.stdout.on('data', onData);
          } else ch.end();
        };

        ch.on('data', (b: Buffer) => {
          this.counters.bytesReceived += b.length;
          stdout.push(b);
        });
        ch.on('exit', (code: number | null, signal?: string) => {
          exitCode = exitCodeOf(code, signal);
        });
        ch.on('error', () => {
          /* reported through close / connection loss */
        });
        ch.on('close', () => {
          flushBeforeClose?.();
          if (exitCode === null) {
            finish(() => reject(this.lost ?? connectionLostError(this.name, `the channel of "${spec.display}" closed without an exit status`)));
            return;
          }
          const code = exitCode;
          // the host's own `timeout` got there first (see withRemoteTimeout)
          if (spec.timeoutMs > 0 && (code === 124 || code === 137) && Date.now() - started >= spec.timeoutMs) {
            finish(() => reject(commandTimeoutError(this.name, spec.display, spec.timeoutMs)));
            return;
          }
          finish(() =>
            resolve({
              display: spec.display,
              exitCode: code,
              stdout: Buffer.concat(stdout),
              stderr: Buffer.concat(stderr),
              durationMs: Date.now() - started,
              bytesSent,
            }),
          );
        });

        if (!spec.sudoPassword) {
          ch.stderr.on('data', (b: Buffer) => {
            this.counters.bytesReceived += b.length;
            stderr.push(b);
          });
          startStdin();
          return;
        }
        // sudo with a password: answer its prompt once, then wait for the command to start
        const { prompt, started: startedMark, password } = spec.sudoPassword;
        let pre = '';
        let answered = false;
        let running = false;
        ch.stderr.on('data', (b: Buffer) => {
          this.counters.bytesReceived += b.length;
          if (running) {
            stderr.push(b);
            return;
          }
          pre += b.toString('utf8');
          const at = pre.indexOf(startedMark);
          if (at >= 0) {
            running = true;
            const rest = pre.slice(at + startedMark.length);
            if (rest) stderr.push(Buffer.from(rest, 'utf8'));
            startStdin();
            return;
          }
          const prompts = pre.split(prompt).length - 1;
          if (prompts >= 2) {
            finish(() => {
              ch.close();
              reject(
                new KubiError('sudo-password-rejected', `sudo on ${this.name} rejected the password`, {
                  host: this.name,
                  hint: `check KUBI_SUDO_PASSWORD (the password of ${this.user} on ${this.name})`,
                }),
              );
            });
          } else if (prompts === 1 && !answered) {
            answered = true;
            const line = Buffer.from(`${password}\n`, 'utf8');
            count(line.length);
            ch.write(line);
          }
        });
        flushBeforeClose = () => {
          if (!running && pre) stderr.push(Buffer.from(pre.split(prompt).join(''), 'utf8'));
        };
      };

      this.openChannel(spec.commandLine, (ch) => {
        if (done) {
          // lost or closed while the channel was opening
          ch.close();
          return;
        }
        wire(ch);
      }).catch((e: unknown) => finish(() => reject(e)));
    });
  }
}

/** The spec as it runs under sudo (what logs and errors show). */
function withPrefix(spec: CommandSpec, prefix: string): CommandSpec {
  const out: CommandSpec = { ...spec, display: `${prefix} ${spec.display}` };
  if (spec.logCommand !== undefined) out.logCommand = `${prefix} ${spec.logCommand}`;
  return out;
}

function channelBase(spec: CommandSpec): Omit<ChannelSpec, 'commandLine'> {
  const base: Omit<ChannelSpec, 'commandLine'> = { display: spec.display, timeoutMs: spec.timeoutMs };
  if (spec.stdin !== undefined) base.stdin = spec.stdin;
  if (spec.sendOnToken !== undefined) base.sendOnToken = spec.sendOnToken;
  return base;
}

/**
 * Send a signal to the remote process (RFC 4254 6.9; OpenSSH signals the session's process
 * group). ssh2's ClientChannel.signal() silently does nothing once stdin is closed, which is
 * always the case here, so this goes to the protocol object behind it when it is there.
 * Best effort: servers may ignore signals.
 */
function signalChannel(ch: ClientChannel, name: string): void {
  const inner = ch as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  try {
    const protocol = inner._client?._protocol;
    const id = inner.outgoing?.id;
    const state = inner.outgoing?.state;
    // 'eof' = our stdin is closed: a channel request is still allowed then
    if (protocol?.signal && typeof id === 'number' && (state === 'open' || state === 'eof')) protocol.signal(id, name);
    else ch.signal(name);
  } catch {
    /* the channel is already closing */
  }
}

function toBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

async function readSshConfig(opts: TransportOptions, env: NodeJS.ProcessEnv): Promise<ParsedSshConfig | null> {
  const file = opts.sshConfigPath ?? path.join(env.HOME ?? os.homedir(), '.ssh', 'config');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KubiError('ssh-config-unreadable', `cannot read ${file}: ${(e as Error).message}`, { hint: 'fix its permissions or set useSshConfig: false' });
  }
  const parsed = parseSshConfig(text);
  for (const w of parsed.warnings) opts.log?.event(null, `${file}: ${w}`);
  return parsed;
}
