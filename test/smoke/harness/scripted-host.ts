/**
 * TEST DOUBLE: a scripted fake RemoteHost for unit tests of the smoke framework and checks.
 * It runs nothing: each exec/script is matched against rules (first match wins) that return
 * recorded or constructed outputs. An unscripted command fails the test loudly. Every call is
 * recorded so tests can assert what was run (read-only flags, cleanup, stdin redirects).
 * The behaviour on real hosts is proven by the lab tests and the local etcd test.
 */
import { shellQuote } from '../../../src/transport/quote.js';
import { RemoteCommandError } from '../../../src/transport/errors.js';
import type { ExecOptions, ExecResult, PutFileOptions, PutFileResult, RemoteHost, TransportStats } from '../../../src/transport/types.js';

export interface Reply {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

export interface Rule {
  /** matched against the quoted command (exec) or the script text (script) */
  match: RegExp | ((text: string) => boolean);
  reply: Reply | ((text: string, call: number) => Reply | Promise<Reply>);
  /** only for exec or only for script calls */
  kind?: 'exec' | 'script';
}

export interface Call {
  kind: 'exec' | 'script' | 'putFile' | 'getFile';
  text: string;
  opts?: ExecOptions | PutFileOptions;
}

export class ScriptedHost implements RemoteHost {
  readonly calls: Call[] = [];
  readonly files = new Map<string, Buffer>();
  private readonly counts = new Map<Rule, number>();

  constructor(
    readonly name: string,
    readonly address: string,
    readonly rules: Rule[],
    readonly isRoot = true,
  ) {}

  /** Add rules in front (they win over the constructor's). */
  prepend(...rules: Rule[]): this {
    this.rules.unshift(...rules);
    return this;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.answer('exec', shellQuote(argv), opts);
  }

  async script(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.answer('script', script, opts);
  }

  async putFile(path: string, content: string | Buffer, opts: PutFileOptions = {}): Promise<PutFileResult> {
    this.calls.push({ kind: 'putFile', text: path, opts });
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    this.files.set(path, buf);
    return { path, changed: true, bytesSent: buf.length };
  }

  async getFile(path: string): Promise<Buffer | null> {
    this.calls.push({ kind: 'getFile', text: path });
    return this.files.get(path) ?? null;
  }

  reconnects = 0;
  async reconnect(): Promise<void> {
    this.reconnects++;
  }

  stats(): TransportStats {
    return { connections: 1, roundTrips: this.calls.length, bytesSent: 0, bytesReceived: 0 };
  }

  commands(kind?: Call['kind']): string[] {
    return this.calls.filter((c) => !kind || c.kind === kind).map((c) => c.text);
  }

  private async answer(kind: 'exec' | 'script', text: string, opts: ExecOptions): Promise<ExecResult> {
    this.calls.push({ kind, text, opts });
    const rule = this.rules.find((r) => (!r.kind || r.kind === kind) && (typeof r.match === 'function' ? r.match(text) : r.match.test(text)));
    if (!rule) throw new Error(`ScriptedHost ${this.name}: unscripted ${kind}: ${text.slice(0, 300)}`);
    const n = (this.counts.get(rule) ?? 0) + 1;
    this.counts.set(rule, n);
    const reply = typeof rule.reply === 'function' ? await rule.reply(text, n) : rule.reply;
    const result: ExecResult = {
      command: kind === 'exec' ? text : 'bash -s',
      exitCode: reply.exitCode ?? 0,
      stdout: reply.stdout ?? '',
      stderr: reply.stderr ?? '',
      durationMs: 1,
    };
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new RemoteCommandError({ host: this.name, command: result.command, exitCode: result.exitCode, stderr: result.stderr, stdout: result.stdout });
    }
    return result;
  }
}

/** A fake clock: `now()` advances only through `sleep()` (and `advance()`), so retries finish instantly. */
export class FakeClock {
  constructor(public t = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  readonly sleeps: number[] = [];
  now = (): number => this.t;
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.t += ms;
  };
  advance(ms: number): void {
    this.t += ms;
  }
}
