/**
 * What every lifecycle command (replace, remove, reset, backup, restore) shares: load the
 * inventory, take the state directory's lock, open a run log, connect to the hosts it needs
 * (an unreachable host is recorded, not fatal: the commands decide what they can do without it),
 * gather facts, and run playbooks SCOPED to some hosts (`scope.ts`) with the normal engine,
 * progress and run log. The collaborators come in through `SessionDeps` (real modules by default).
 */
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { ClusterContext } from '../engine/types.js';
import type { RunResult } from '../engine/run.js';
import type { RunLog } from '../engine/runlog.js';
import type { Selection } from '../engine/select.js';
import type { Facts } from '../facts/types.js';
import type { Inventory } from '../inventory/schema.js';
import type { CommandLogSink, RemoteHost } from '../transport/types.js';
import type { Pace } from '../steps/lifecycle/etcd-cluster.js';
import { PEERS_SERVICE } from '../steps/lifecycle/peers.js';
import { scopePlaybook } from './scope.js';

export interface SessionDeps {
  loadInventory(file: string): Promise<{ inventory: Inventory; path: string; stateDir: string }>;
  /** connect to `hosts`; unreachable ones are reported, not thrown */
  connect(args: {
    inventory: Inventory;
    inventoryPath: string;
    stateDir: string;
    hosts: readonly string[];
    log: CommandLogSink;
    say(line: string): void;
  }): Promise<{ remotes: ReadonlyMap<string, RemoteHost>; unreachable: ReadonlyMap<string, string>; closeAll(): void }>;
  gatherFacts(remote: RemoteHost): Promise<Facts>;
}

export async function realSessionDeps(): Promise<SessionDeps> {
  const [{ loadInventory }, transport, { connectForVerify }, { gatherFacts }] = await Promise.all([
    import('../inventory/load.js'),
    import('../transport/index.js'),
    import('../smoke/connect.js'),
    import('../facts/gather.js'),
  ]);
  return {
    loadInventory,
    gatherFacts: (remote) => gatherFacts(remote),
    async connect(a) {
      const wanted = new Set(a.hosts);
      const targets = transport.targetsFromInventory(a.inventory, { baseDir: path.dirname(a.inventoryPath) }).filter((t) => wanted.has(t.name));
      return connectForVerify(targets, {
        stateDir: a.stateDir,
        log: a.log,
        onHostKey: (e) =>
          a.say(
            e.kind === 'recorded'
              ? `recorded the host key of ${e.host} (${e.address}:${e.port}): ${e.keyType} ${e.fingerprint}`
              : `REPLACED the host key of ${e.host} (${e.address}:${e.port}): was ${e.previousKeyType ?? '?'} ${e.previousFingerprint ?? '?'}, now ${e.keyType} ${e.fingerprint}`,
          ),
      });
    },
  };
}

export interface SessionOptions {
  /** the command name (run log file name, lock holder) */
  command: string;
  inventoryFile: string;
  /** which hosts to connect to (default: every host of the inventory) */
  hosts?: (inv: Inventory) => readonly string[];
  quiet?: boolean;
  /** progress lines and notes (stderr) */
  say(line: string): void;
  deps: SessionDeps;
}

export interface PlaybookRunOptions {
  /** only these hosts (local steps always run) */
  hosts: readonly string[];
  selection?: Selection;
  mode?: 'plan' | 'apply';
}

export interface Session {
  readonly inventory: Inventory;
  readonly inventoryPath: string;
  readonly stateDir: string;
  readonly log: RunLog;
  readonly remotes: ReadonlyMap<string, RemoteHost>;
  /** host -> why it could not be reached */
  readonly unreachable: ReadonlyMap<string, string>;
  readonly facts: ReadonlyMap<string, Facts>;
  readonly signal: AbortSignal;
  readonly pace: Pace;
  say(line: string): void;
  clusterContext(mode: 'plan' | 'apply'): ClusterContext;
  /** run a playbook (name or file) on some hosts; returns the engine's result (the caller reports it) */
  runPlaybook(name: string, opts: PlaybookRunOptions): Promise<RunResult>;
}

/** Open a session, run `fn`, always close connections, the run log and the lock. */
export async function withSession<T>(opts: SessionOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  await import('../steps/index.js'); // registers the built-in steps
  const { ensureDir } = await import('../fs-atomic.js');
  const lockMod = await import('../engine/lock.js');
  const { RunLog } = await import('../engine/runlog.js');
  const { loadPlaybook } = await import('../engine/playbook.js');
  const { runPlaybook } = await import('../engine/run.js');
  const { createProgress } = await import('../cli/progress.js');

  const loaded = await opts.deps.loadInventory(opts.inventoryFile);
  await ensureDir(loaded.stateDir, 0o700);
  const lock = lockMod.acquireLock(loaded.stateDir, opts.command, {
    onStale: (stale, why) => opts.say(`note: replacing a stale lock (${lockMod.describeHolder(stale)}): ${why}`),
  });
  const controller = new AbortController();
  const removeSignals = lockMod.handleSignals(() => {
    opts.say('interrupted: letting work in flight finish, starting nothing new (Ctrl-C again stops at once)');
    controller.abort(new KubiError('interrupted', 'interrupted by the user'));
  });
  let log: RunLog | undefined;
  let closeAll: (() => void) | undefined;
  try {
    log = RunLog.open(loaded.stateDir, { command: opts.command });
    const runLog = log;
    if (!opts.quiet) opts.say(`run log: ${runLog.path}`);
    const hosts = opts.hosts ? opts.hosts(loaded.inventory) : loaded.inventory.hosts.map((h) => h.name);
    const conn = hosts.length
      ? await opts.deps.connect({ inventory: loaded.inventory, inventoryPath: loaded.path, stateDir: loaded.stateDir, hosts, log: runLog, say: opts.say })
      : { remotes: new Map<string, RemoteHost>(), unreachable: new Map<string, string>(), closeAll: () => undefined };
    closeAll = conn.closeAll;
    const remotes = new Map(conn.remotes);
    const unreachable = new Map(conn.unreachable);
    const facts = new Map<string, Facts>();
    await Promise.all(
      [...remotes.entries()].map(async ([name, remote]) => {
        try {
          facts.set(name, await opts.deps.gatherFacts(remote));
        } catch (e) {
          remotes.delete(name);
          unreachable.set(name, `facts could not be gathered: ${e instanceof Error ? e.message : String(e)}`);
        }
      }),
    );
    for (const [name, why] of unreachable) {
      opts.say(`${name}: unreachable: ${why}`);
      runLog.event(name, `unreachable: ${why}`);
    }
    const pace: Pace = { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), signal: controller.signal };
    const clusterContext = (mode: 'plan' | 'apply'): ClusterContext => ({
      inventory: loaded.inventory,
      inventoryPath: loaded.path,
      stateDir: loaded.stateDir,
      mode,
      facts,
      services: { [PEERS_SERVICE]: remotes },
      signal: controller.signal,
      now: pace.now,
      sleep: pace.sleep,
    });
    const session: Session = {
      inventory: loaded.inventory,
      inventoryPath: loaded.path,
      stateDir: loaded.stateDir,
      log: runLog,
      remotes,
      unreachable,
      facts,
      signal: controller.signal,
      pace,
      say: (line) => {
        runLog.event(null, line);
        if (!opts.quiet) opts.say(line);
      },
      clusterContext,
      async runPlaybook(name, run) {
        const missing = run.hosts.filter((h) => !remotes.has(h));
        if (missing.length > 0) throw new KubiError('internal', `no connection to ${missing.join(', ')}`);
        const playbook = scopePlaybook(await loadPlaybook(name), loaded.inventory, run.hosts, run.selection ?? {});
        const progress = createProgress({ mode: opts.quiet ? 'quiet' : 'auto' });
        const result = await runPlaybook({
          playbook,
          cluster: clusterContext(run.mode ?? 'apply'),
          remotes,
          onEvent: [runLog.engineEvent, progress.onEvent],
        });
        await progress.done();
        return result;
      },
    };
    return await fn(session);
  } finally {
    closeAll?.();
    log?.close();
    removeSignals();
    lock.release();
  }
}
