/**
 * TEST DOUBLE (named as such): a scripted fake host for unit tests of the host and etcd steps'
 * plan/apply logic. It extends the engine's in-memory FakeHost (files, directories, units, the
 * observe and fingerprint scripts) with answers scripted per call label: a test registers
 * `onScript(label, fn)` / `onExec(match, fn)` that return what the real command would print.
 * Real behaviour of the scripts is proven on real hosts (test/e2e/etcd.hosts.test.ts) and, where
 * possible, by running them locally with bash (test/steps/host/*.test.ts).
 */
import type { ExecOptions, ExecResult } from '../../../src/transport/types.js';
import { formatObservation, requestOfScript } from '../../../src/steps/lib/observe.js';
import { RemoteCommandError } from '../../../src/transport/errors.js';
import { shellQuote } from '../../../src/transport/quote.js';
import { FakeHost } from '../../engine/fake-host.js';

export type Answer = string | { stdout?: string; stderr?: string; exitCode?: number };
type ScriptHandler = (script: string) => Answer | Promise<Answer>;
type ExecHandler = (argv: readonly string[]) => Answer | Promise<Answer>;

export class FakeNode extends FakeHost {
  private readonly scripts = new Map<string, ScriptHandler>();
  private readonly execs: { match: (argv: readonly string[]) => boolean; fn: ExecHandler }[] = [];
  /** every script body received, in order (for assertions on what was sent) */
  readonly scriptBodies: { label: string; script: string }[] = [];

  /** Answer scripts sent with this label (the steps label every script they send). */
  onScript(label: string, fn: ScriptHandler): this {
    this.scripts.set(label, fn);
    return this;
  }

  /** Answer exec calls whose argv matches (checked before the base fake's built-ins). */
  onExec(match: (argv: readonly string[]) => boolean, fn: ExecHandler): this {
    this.execs.unshift({ match, fn });
    return this;
  }

  private answer(command: string, a: Answer, allowFailure: boolean | undefined): ExecResult {
    const r = typeof a === 'string' ? { stdout: a } : a;
    const res = { command, exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', durationMs: 1 };
    if (res.exitCode !== 0 && !allowFailure) {
      throw new RemoteCommandError({ host: this.name, command, exitCode: res.exitCode, stderr: res.stderr, stdout: res.stdout });
    }
    return res;
  }

  override async script(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const label = opts.label ?? '';
    this.scriptBodies.push({ label, script });
    const handler = this.scripts.get(label);
    const req = requestOfScript(script);
    if (req && script.includes('\necho @@kubi:extra@@\n')) {
      // observeWithExtra: the observe part from the in-memory file system, the rest scripted
      this.calls.push({ host: this.name, kind: 'script', what: script.split('\n', 1)[0] ?? '', mutating: opts.mutating === true, label });
      const extra = handler ? await handler(script) : '';
      const r = typeof extra === 'string' ? { stdout: extra } : extra;
      return this.answer('bash -s', { ...r, stdout: `${formatObservation(this.observation(), req)}@@kubi:extra@@\n${r.stdout ?? ''}` }, true);
    }
    if (handler) {
      this.calls.push({ host: this.name, kind: 'script', what: script.split('\n', 1)[0] ?? '', mutating: opts.mutating === true, label });
      return this.answer('bash -s', await handler(script), opts.allowFailure);
    }
    return super.script(script, opts);
  }

  override async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const h = this.execs.find((e) => e.match(argv));
    if (h) {
      this.calls.push({ host: this.name, kind: 'exec', what: shellQuote(argv), mutating: opts.mutating === true, ...(opts.label ? { label: opts.label } : {}) });
      return this.answer(shellQuote(argv), await h.fn(argv), opts.allowFailure);
    }
    return super.exec(argv, opts);
  }
}
