/**
 * The small interface steps, facts and smoke checks see of a host. The real implementation
 * (ssh2, one connection per host for the whole run) lives in src/transport/ssh.ts; unit tests use
 * a scripted fake. Nothing outside src/transport/ imports ssh2.
 */

export interface ExecOptions {
  /** run through sudo (`sudo -n`) when the login user is not root; default: the host's setting */
  sudo?: boolean;
  /** bytes written to the command's stdin, then stdin is closed */
  stdin?: string | Buffer;
  /** per-command timeout; default: the transport's command timeout; 0 = none */
  timeoutMs?: number;
  /** do not throw on a non-zero exit: return the result */
  allowFailure?: boolean;
  /** a short label for the run log ("read etcd config"); defaults to the command */
  label?: string;
  /** does the command change the host? (read-only commands are logged as such; used by tests) */
  mutating?: boolean;
  /** the command or script text is secret: the run log shows only a placeholder for it */
  secret?: boolean;
}

export interface ExecResult {
  /** the command as a user could paste it (secrets redacted) */
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface PutFileOptions {
  /** octal mode, e.g. 0o644; default 0o644 */
  mode?: number;
  owner?: string;
  group?: string;
  /** skip the upload when the remote sha256 already matches (default true) */
  skipIfSame?: boolean;
  /** content is secret: never logged, never shown */
  secret?: boolean;
}

export interface PutFileResult {
  path: string;
  changed: boolean;
  bytesSent: number;
}

export interface RemoteHost {
  /** inventory name of the host */
  readonly name: string;
  /** address the tool connects to */
  readonly address: string;
  /** true when commands already run as root (no sudo needed) */
  readonly isRoot: boolean;

  /** Run an argv (quoted by the transport's one quoting function). Throws RemoteCommandError on non-zero exit unless allowFailure. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;

  /**
   * Run a shell script (bash) in one round trip; the script is sent on stdin, never on the
   * command line, so secrets in it stay out of `ps`. Used for batched read-only checks.
   */
  script(script: string, opts?: ExecOptions): Promise<ExecResult>;

  /** Write a file atomically (temp file in the same directory, fsync, rename), with mode and owner. */
  putFile(path: string, content: string | Buffer, opts?: PutFileOptions): Promise<PutFileResult>;

  /** Read a file; null when it does not exist. */
  getFile(path: string, opts?: { sudo?: boolean }): Promise<Buffer | null>;

  /**
   * Drop the current connection (if any) and open a new one to the SAME target with the same
   * auth and host-key policy, retrying with backoff until `timeoutMs` (default 300 s). A changed
   * host key is still a hard error (never retried). In-flight commands of the old connection fail
   * with connection-lost. Fails with `reconnect-timeout` naming what it waited for, the host and
   * the last connection error.
   */
  reconnect(opts?: ReconnectOptions): Promise<void>;

  /** Counters for benchmarks and tests. */
  stats(): TransportStats;

  /**
   * Optional: a view of this host for READ-ONLY work whose exec/script/getFile calls issued close
   * together (a few ms) travel as one round trip (see batch.ts). The engine uses it to run every
   * step's check at once in plan mode (src/engine/prefetch.ts). Calls with stdin or secret
   * commands, and putFile/reconnect, go through unbatched.
   */
  batched?(): RemoteHost;
}

export interface ReconnectOptions {
  /** give up after this long (default 300 s) */
  timeoutMs?: number;
  /** why ("reboot"): shown in the log and in the timeout error */
  reason?: string;
}

export interface TransportStats {
  connections: number;
  roundTrips: number;
  bytesSent: number;
  bytesReceived: number;
}

/** Where the transport writes every remote command (the run log implements it; secrets already redacted). */
export interface CommandLogSink {
  command(entry: {
    host: string;
    command: string;
    exitCode: number | null;
    durationMs: number;
    stdout: string;
    stderr: string;
    mutating: boolean;
    label?: string;
  }): void;
  event(host: string | null, message: string): void;
}
