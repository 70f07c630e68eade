/**
 * `plan <inventory>` and `up <inventory>`: run a playbook (default playbooks/up.yaml) against the
 * cluster. Flow: load inventory -> load playbook (unknown steps refused) -> check the step
 * selection -> state dir (0700) -> lock -> run log -> connect the targeted hosts -> facts ->
 * run -> report (plan: text, JSON or a Markdown runbook; up: summary) -> exit code (0 ok, 1 a
 * run failed, 130 interrupted). Heavy modules are imported inside the action (fast startup).
 *
 * The collaborators (inventory loader, SSH pool, facts) come in through `RunDeps`, so tests can
 * drive the whole command with test doubles; `realDeps()` wires the real modules.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { Facts } from '../../facts/types.js';
import type { Inventory } from '../../inventory/schema.js';
import type { RemoteHost, CommandLogSink } from '../../transport/types.js';
import type { RunLog } from '../../engine/runlog.js';
import type { RunResult } from '../../engine/run.js';
import type { EngineEvent, EventListener } from '../../engine/events.js';
import type { CliContext } from '../output.js';

export interface RunCommandOptions {
  only?: string[];
  from?: string;
  until?: string;
  output?: string;
  runbook?: string;
  quiet?: boolean;
  concurrency?: string | number;
  strictHostKeys?: boolean;
  acceptChangedHostKeys?: boolean;
  playbook?: string;
  /** write per-host transport counters and timings as JSON (see ../run-stats.ts) */
  statsJson?: string;
}

/** What the command needs from the rest of the tool (real modules, or test doubles). */
export interface RunDeps {
  loadInventory(file: string): Promise<{ inventory: Inventory; path: string; stateDir: string }>;
  /** connect to the named hosts (one connection each, reused for the whole run) */
  connect(args: {
    inventory: Inventory;
    inventoryPath: string;
    stateDir: string;
    hosts: string[];
    log: CommandLogSink;
    strictHostKeys: boolean;
    acceptChangedHostKeys: boolean;
    say(line: string): void;
  }): Promise<{ hosts: ReadonlyMap<string, RemoteHost>; closeAll(): void }>;
  gatherFacts(remote: RemoteHost): Promise<Facts>;
}

export async function realDeps(): Promise<RunDeps> {
  const [{ loadInventory }, transport, { gatherFacts }] = await Promise.all([
    import('../../inventory/load.js'),
    import('../../transport/index.js'),
    import('../../facts/gather.js'),
  ]);
  return {
    loadInventory,
    gatherFacts: (remote) => gatherFacts(remote),
    async connect(a) {
      const wanted = new Set(a.hosts);
      const targets = transport.targetsFromInventory(a.inventory, { baseDir: path.dirname(a.inventoryPath) }).filter((t) => wanted.has(t.name));
      const pool = await transport.connectHosts(targets, {
        stateDir: a.stateDir,
        inventoryPath: a.inventoryPath,
        log: a.log,
        strictHostKeys: a.strictHostKeys,
        acceptChangedHostKeys: a.acceptChangedHostKeys,
        onHostKey: (e) =>
          a.say(
            e.kind === 'recorded'
              ? `recorded the host key of ${e.host} (${e.address}:${e.port}): ${e.keyType} ${e.fingerprint}`
              : `REPLACED the host key of ${e.host} (${e.address}:${e.port}): was ${e.previousKeyType ?? '?'} ${e.previousFingerprint ?? '?'}, now ${e.keyType} ${e.fingerprint}`,
          ),
      });
      return { hosts: pool.hosts, closeAll: () => pool.closeAll() };
    },
  };
}

const collect = (value: string, prev: string[] = []): string[] => [...prev, value];

/** Adds `plan` and `up`. `deps` is for tests (default: the real modules). */
export function register(program: Command, cli: CliContext, deps: () => Promise<RunDeps> = realDeps): void {
  for (const name of ['plan', 'up'] as const) {
    const cmd = program
      .command(name)
      .description(
        name === 'plan'
          ? 'show what `up` would change, per host and step, with diffs (changes nothing)'
          : 'bring the cluster to the state the inventory describes (safe to re-run)',
      )
      .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
      .option('--only <steps>', 'run only these steps: ids or components (etcd), comma-separated or repeated', collect)
      .option('--from <step>', 'start at this step (or the first step of a component)')
      .option('--until <step>', 'stop after this step (or after the last step of a component)')
      .option('--concurrency <n>', 'at most this many hosts at once in a step (default: the playbook, 10)')
      .option('--quiet', 'no progress output')
      .option('--strict-host-keys', 'refuse hosts whose SSH host key is not recorded yet (no trust on first use)')
      .option('--accept-changed-host-keys', 'replace changed SSH host keys (throw-away labs only), reporting both fingerprints')
      .option('--playbook <name|file>', 'the playbook to run (default: up)')
      .option('--stats-json <file>', 'write per-host SSH connections, round trips, bytes sent and uploaded, and timings as JSON');
    if (name === 'plan') {
      cmd.option('--output <format>', 'text or json', 'text').option('--runbook <file>', 'also write the plan as a Markdown runbook (every file and command, secrets masked)');
    }
    cmd.action(async (file: string, opts: RunCommandOptions) => {
      process.exitCode = await runCommand(name, file, opts, cli, await deps());
    });
  }
}

/** The whole command; returns the exit code. Throws KubiError for problems before the run (handled by the CLI's one handler). */
export async function runCommand(command: 'plan' | 'up', file: string, opts: RunCommandOptions, cli: CliContext, deps: RunDeps): Promise<number> {
  const { EXIT, KubiError, UsageError } = await import('../../errors.js');
  await import('../../steps/index.js'); // registers the built-in steps
  const { loadPlaybook } = await import('../../engine/playbook.js');
  const { selectSteps } = await import('../../engine/select.js');
  const { resolveTargets } = await import('../../engine/targets.js');
  const { ensureDir, writeFileAtomic } = await import('../../fs-atomic.js');
  const lockMod = await import('../../engine/lock.js');
  const { RunLog } = await import('../../engine/runlog.js');
  const { runPlaybook } = await import('../../engine/run.js');
  const report = await import('../../engine/report.js');
  const { createProgress } = await import('../progress.js');
  const say = (line: string): void => cli.output.errLine(line);
  const startedAt = Date.now();

  // --- everything that can be refused before touching anything (exit 2)
  const output = opts.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${output}: use text or json`);
  let maxConcurrency: number | undefined;
  if (opts.concurrency !== undefined) {
    maxConcurrency = Number(opts.concurrency);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new UsageError(`--concurrency ${opts.concurrency}: give a whole number of at least 1`);
  }
  const loaded = await deps.loadInventory(file);
  const playbook = await loadPlaybook(opts.playbook ?? 'up');
  const selection = {
    ...(opts.only ? { only: opts.only } : {}),
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
  };
  const selected = new Set(selectSteps(playbook.steps.map((s) => s.id), selection));
  const hostNames = new Set<string>();
  for (const s of playbook.steps) {
    if (!selected.has(s.id)) continue;
    for (const h of resolveTargets(s.selector, loaded.inventory, s.id)) hostNames.add(h.name);
  }
  const targets = loaded.inventory.hosts.map((h) => h.name).filter((n) => hostNames.has(n));

  // --- state, lock, log
  await ensureDir(loaded.stateDir, 0o700);
  const lock = lockMod.acquireLock(loaded.stateDir, command, {
    onStale: (stale, why) => say(`note: replacing a stale lock (${lockMod.describeHolder(stale)}): ${why}`),
  });
  const controller = new AbortController();
  const removeSignals = lockMod.handleSignals(() => {
    say('interrupted: letting work in flight finish, starting nothing new (Ctrl-C again stops at once)');
    controller.abort(new KubiError('interrupted', 'interrupted by the user'));
  });
  let runLog: RunLog | undefined;
  let closeAll: (() => void) | undefined;
  let connectedAt: number | undefined;
  const uploads = new Map<string, { files: number; bytes: number }>();
  try {
    runLog = RunLog.open(loaded.stateDir, { command });
    const log = runLog;
    if (!opts.quiet) say(`run log: ${log.path}`);

    // --- connect + facts (only the hosts the selected steps target)
    let remotes: ReadonlyMap<string, RemoteHost> = new Map();
    const facts = new Map<string, Facts>();
    if (targets.length > 0) {
      const pool = await deps.connect({
        inventory: loaded.inventory,
        inventoryPath: loaded.path,
        stateDir: loaded.stateDir,
        hosts: targets,
        log,
        strictHostKeys: opts.strictHostKeys === true,
        acceptChangedHostKeys: opts.acceptChangedHostKeys === true,
        say,
      });
      closeAll = () => pool.closeAll();
      remotes = pool.hosts;
      if (opts.statsJson) {
        const { countUploads } = await import('../run-stats.js');
        remotes = new Map([...pool.hosts].map(([name, r]) => {
          const counter = { files: 0, bytes: 0 };
          uploads.set(name, counter);
          return [name, countUploads(r, counter)] as const;
        }));
      }
      connectedAt = Date.now();
      const gathered = await Promise.all(
        targets.map(async (name) => {
          const remote = remotes.get(name);
          if (!remote) throw new KubiError('internal', `no connection to ${name}`, { host: name });
          return [name, await deps.gatherFacts(remote)] as const;
        }),
      );
      for (const [name, f] of gathered) facts.set(name, f);
    }
    const factsAt = Date.now();

    // --- run
    const progress = createProgress({ mode: opts.quiet ? 'quiet' : 'auto' });
    const cluster = {
      inventory: loaded.inventory,
      inventoryPath: loaded.path,
      stateDir: loaded.stateDir,
      facts,
      services: { remotes }, // other hosts' connections, for steps that work through a peer (etcd.members)
      signal: controller.signal,
      now: () => new Date(),
      sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    };
    // KUBI_PREFETCH=0 turns off the batched check-ahead (for comparisons and debugging)
    const prefetch = process.env.KUBI_PREFETCH !== '0';
    const run = (mode: 'plan' | 'apply', onEvent: EventListener[]) =>
      runPlaybook({
        playbook,
        selection,
        cluster: { ...cluster, mode },
        remotes,
        onEvent,
        prefetch,
        ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      });
    let result: RunResult;
    if (command === 'plan') {
      result = await run('plan', [log.engineEvent, progress.onEvent]);
    } else if (!prefetch) {
      result = await run('apply', [log.engineEvent, progress.onEvent]);
    } else {
      // Check first: every step's check on every host at once, in plan mode (a few batched round
      // trips per host). When nothing would change, that IS the converged `up`; otherwise the
      // apply run goes step by step as always (the log keeps both).
      const seen: EngineEvent[] = [];
      const probe = await run('plan', [log.engineEvent, (e) => seen.push(e)]);
      const converged = probe.ok && probe.notRun.length === 0 && probe.steps.every((s) => s.hosts.every((h) => h.status === 'up-to-date'));
      if (converged) {
        log.event(null, 'up: every selected step is up to date on every host (checked in plan mode): nothing to apply');
        for (const e of seen) progress.onEvent(e.type === 'run-start' ? { ...e, mode: 'apply' } : e);
        result = { ...probe, mode: 'apply' };
      } else {
        log.event(null, 'up: the check found changes (or could not finish): applying step by step');
        result = await run('apply', [log.engineEvent, progress.onEvent]);
      }
    }
    await progress.done();
    if (opts.statsJson) {
      const { runStats } = await import('../run-stats.js');
      const end = Date.now();
      const stats = runStats({
        command,
        ok: result.ok,
        timings: { connectMs: (connectedAt ?? factsAt) - startedAt, factsMs: factsAt - (connectedAt ?? factsAt), runMs: end - factsAt, totalMs: end - startedAt },
        steps: result.steps,
        remotes,
        uploads,
      });
      await writeFileAtomic(path.resolve(opts.statsJson), JSON.stringify(stats, null, 2) + '\n', 0o644);
    }

    // --- report
    if (command === 'plan') {
      if (output === 'json') cli.output.out(JSON.stringify(report.renderJson(result), null, 2) + '\n');
      else cli.output.out(report.renderText(result));
      if (opts.runbook) {
        const target = path.resolve(opts.runbook);
        await writeFileAtomic(
          target,
          report.renderRunbook(result, { inventory: loaded.inventory, inventoryPath: loaded.path, stateDir: loaded.stateDir, generatedAt: new Date() }),
          0o644,
        );
        say(`runbook written to ${target}`);
      }
    } else {
      cli.output.out(report.renderSummary(result) + '\n');
    }
    if (result.interrupted) return 130;
    return result.ok ? EXIT.ok : EXIT.runFailed;
  } finally {
    closeAll?.();
    runLog?.close();
    removeSignals();
    lock.release();
  }
}
