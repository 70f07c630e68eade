/**
 * TEST DOUBLE (named as such): a scripted, in-memory RemoteHost for unit tests of the engine's
 * plan/apply logic. It simulates a filesystem (files, directories, mode, owner) and systemd unit
 * states, and interprets exactly the commands and scripts the engine and src/steps/lib send:
 *   - the observe script (recognised by its embedded request; answered with formatObservation,
 *     the inverse of the real parser; the real script is tested with real bash in
 *     test/steps/lib/observe.test.ts and over real sshd in test/engine/*.hosts.test.ts),
 *   - the fingerprint script of the executor,
 *   - install -d, rm, chmod, chown, systemctl (daemon-reload, enable, disable, start, stop,
 *     restart, reload, enable --now), true.
 * Anything else fails loudly. Hooks let a test inject failures, delays and gates.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ExecOptions, ExecResult, PutFileOptions, PutFileResult, RemoteHost, TransportStats } from '../../src/transport/types.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { formatObservation, requestOfScript, type Observation } from '../../src/steps/lib/observe.js';
import { shellQuote } from '../../src/transport/quote.js';
import type { Facts } from '../../src/facts/types.js';

export interface FakeFile {
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}
export interface FakeUnit {
  enabled: string;
  active: string;
}
export interface Call {
  host: string;
  kind: 'exec' | 'script' | 'putFile' | 'getFile';
  /** exec argv (quoted), script first line, or the path */
  what: string;
  mutating: boolean;
  label?: string;
}

type Hook = (call: Call) => Promise<void> | void;

export class FakeHost implements RemoteHost {
  readonly name: string;
  readonly address: string;
  readonly isRoot = true;
  readonly files = new Map<string, FakeFile>();
  readonly dirs = new Map<string, { mode: number; owner: string; group: string }>();
  readonly units = new Map<string, FakeUnit>();
  readonly calls: Call[] = [];
  /** shared call log across hosts (for ordering assertions) */
  journal: Call[] | undefined;
  /** runs before every call; throw to make the call fail */
  before: Hook | undefined;
  private trips = 0;
  private sent = 0;

  constructor(name: string, address = '10.0.0.1', journal?: Call[]) {
    this.name = name;
    this.address = address;
    this.journal = journal;
    for (const d of ['/', '/etc', '/var', '/var/lib', '/tmp']) this.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
  }

  /** Known units start disabled and inactive. */
  addUnit(unit: string, state: Partial<FakeUnit> = {}): void {
    this.units.set(unit, { enabled: state.enabled ?? 'disabled', active: state.active ?? 'inactive' });
  }

  writeFile(p: string, content: string | Buffer, mode = 0o644, owner = 'root', group = 'root'): void {
    this.files.set(p, { content: Buffer.from(content), mode, owner, group });
  }

  text(p: string): string | undefined {
    return this.files.get(p)?.content.toString('utf8');
  }

  mutatingCalls(): Call[] {
    return this.calls.filter((c) => c.mutating);
  }

  private async record(call: Call): Promise<void> {
    this.trips++;
    this.calls.push(call);
    this.journal?.push(call);
    await this.before?.(call);
  }

  private fail(command: string, stderr: string, exitCode = 1): never {
    throw new RemoteCommandError({ host: this.name, command, exitCode, stderr, stdout: '' });
  }

  private result(command: string, stdout = ''): ExecResult {
    return { command, exitCode: 0, stdout, stderr: '', durationMs: 1 };
  }

  observation(): Observation {
    const obs: Observation = { files: new Map(), units: new Map() };
    for (const [p, f] of this.files) {
      obs.files.set(p, {
        path: p,
        type: 'file',
        sha256: createHash('sha256').update(f.content).digest('hex'),
        mode: f.mode,
        owner: f.owner,
        group: f.group,
        size: f.content.length,
        content: f.content,
      });
    }
    for (const [p, d] of this.dirs) obs.files.set(p, { path: p, type: 'dir', mode: d.mode, owner: d.owner, group: d.group, size: 0 });
    for (const [u, s] of this.units) obs.units.set(u, { unit: u, ...s });
    return obs;
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = shellQuote(argv);
    await this.record({ host: this.name, kind: 'exec', what: command, mutating: opts.mutating === true, ...(opts.label ? { label: opts.label } : {}) });
    const [cmd, ...args] = argv;
    switch (cmd) {
      case 'true':
        return this.result(command);
      case 'install': {
        // install -d -m MODE [-o O] [-g G] -- PATH
        const mode = parseInt(args[args.indexOf('-m') + 1] ?? '755', 8);
        const o = args.includes('-o') ? args[args.indexOf('-o') + 1]! : 'root';
        const g = args.includes('-g') ? args[args.indexOf('-g') + 1]! : 'root';
        const p = args[args.length - 1]!;
        if (this.files.has(p)) this.fail(command, `install: cannot create directory '${p}': File exists`);
        for (let d = path.dirname(p); !this.dirs.has(d); d = path.dirname(d)) this.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
        this.dirs.set(p, { mode, owner: o, group: g });
        return this.result(command);
      }
      case 'rm': {
        const p = args[args.length - 1]!;
        this.files.delete(p);
        if (args.includes('-rf')) {
          for (const k of [...this.files.keys()]) if (k.startsWith(p + '/')) this.files.delete(k);
          for (const k of [...this.dirs.keys()]) if (k === p || k.startsWith(p + '/')) this.dirs.delete(k);
        }
        return this.result(command);
      }
      case 'chmod': {
        const p = args[args.length - 1]!;
        const f = this.files.get(p) ?? this.dirs.get(p);
        if (!f) this.fail(command, `chmod: cannot access '${p}': No such file or directory`);
        f.mode = parseInt(args[0]!, 8);
        return this.result(command);
      }
      case 'chown': {
        const p = args[args.length - 1]!;
        const f = this.files.get(p) ?? this.dirs.get(p);
        if (!f) this.fail(command, `chown: cannot access '${p}': No such file or directory`);
        const [o, g] = args[0]!.split(':');
        if (o) f.owner = o;
        if (g) f.group = g;
        return this.result(command);
      }
      case 'systemctl':
        return this.systemctl(command, args);
      default:
        return this.fail(command, `${cmd}: command not known to the fake host`, 127);
    }
  }

  private systemctl(command: string, args: string[]): ExecResult {
    const [verb, ...rest] = args;
    if (verb === 'daemon-reload') return this.result(command);
    const unitName = rest.filter((a) => !a.startsWith('--')).pop();
    const unit = unitName === undefined ? undefined : this.units.get(unitName);
    if (!unit) return this.fail(command, `Failed to ${verb} ${unitName}: Unit ${unitName} not found.`, 5);
    switch (verb) {
      case 'enable':
        unit.enabled = 'enabled';
        if (rest.includes('--now')) unit.active = 'active';
        break;
      case 'disable':
        unit.enabled = 'disabled';
        break;
      case 'start':
      case 'restart':
        unit.active = 'active';
        break;
      case 'reload':
        if (unit.active !== 'active') this.fail(command, `${unitName} is not active, cannot reload.`);
        break;
      case 'stop':
        unit.active = 'inactive';
        break;
      default:
        this.fail(command, `unknown systemctl verb ${verb}`);
    }
    return this.result(command);
  }

  async script(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const first = script.split('\n', 1)[0] ?? '';
    await this.record({ host: this.name, kind: 'script', what: first, mutating: opts.mutating === true, ...(opts.label ? { label: opts.label } : {}) });
    const req = requestOfScript(script);
    if (req) return this.result('bash -s', formatObservation(this.observation(), req));
    // the executor's fingerprint script: printf '%s\n' VALUE > PATH.kubi-tmp
    const fp = /^printf '%s\\n' (\S+) > (\S+)\.kubi-tmp$/m.exec(script);
    if (fp) {
      this.writeFile(unquote(fp[2]!), unquote(fp[1]!) + '\n', 0o644);
      return this.result('bash -s');
    }
    return this.fail('bash -s', 'script not known to the fake host', 127);
  }

  async putFile(p: string, content: string | Buffer, opts: PutFileOptions = {}): Promise<PutFileResult> {
    await this.record({ host: this.name, kind: 'putFile', what: p, mutating: true });
    if (!this.dirs.has(path.dirname(p))) this.fail(`put ${p}`, `cannot write ${p}: no such directory ${path.dirname(p)}`);
    const buf = Buffer.from(content);
    this.sent += buf.length;
    this.files.set(p, { content: buf, mode: opts.mode ?? 0o644, owner: opts.owner ?? 'root', group: opts.group ?? 'root' });
    return { path: p, changed: true, bytesSent: buf.length };
  }

  async getFile(p: string): Promise<Buffer | null> {
    await this.record({ host: this.name, kind: 'getFile', what: p, mutating: false });
    return this.files.get(p)?.content ?? null;
  }

  /** the fake has no connection to lose: reconnect only counts (subclasses simulate reboots) */
  reconnects = 0;
  async reconnect(): Promise<void> {
    this.reconnects++;
  }

  stats(): TransportStats {
    return { connections: 1 + this.reconnects, roundTrips: this.trips, bytesSent: this.sent, bytesReceived: 0 };
  }
}

function unquote(word: string): string {
  if (!word.startsWith("'")) return word;
  return word.slice(1, -1).replace(/'\\''/g, "'");
}

/** Facts good enough for steps that do not look at them. */
export function fakeFacts(name: string): Facts {
  return {
    hostname: name,
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', codename: 'bookworm', idLike: [] },
    kernel: { release: '6.1.0-test', machine: 'x86_64' },
    arch: 'amd64',
    archSource: { dpkg: 'amd64', uname: 'x86_64' },
    cgroup: { version: 2, memoryController: true, controllers: ['cpu', 'memory'] },
    raspberryPi: null,
    memory: { totalBytes: 4 << 30, availableBytes: 2 << 30 },
    swap: { totalBytes: 0, devices: [] },
    diskFreeVarBytes: 10 << 30,
    interfaces: [],
    systemd: { version: 252, running: true },
    timeSync: { synchronized: true, service: 'systemd-timesyncd' },
    packageManager: 'apt',
    container: null,
    isRoot: true,
  };
}
