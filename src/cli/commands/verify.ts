/**
 * `verify <inventory>`: layered smoke tests of the running cluster (src/smoke/). Flow: load the
 * inventory -> run log -> connect to every host (an unreachable host is a failed row, not an
 * abort) -> run the layers (hosts, etcd, containerd + CNI, API endpoint, Kubernetes, and with
 * --chaos a short disruption) -> table or JSON on stdout -> exit 0 when no check failed, 1 otherwise
 * (warnings and "not run" rows do not fail the run; 2 for bad input).
 *
 * Read-only except what the checks create and remove again (a key under /kubi-verify/, throwaway
 * containers, a kubi-verify-<id> namespace) and, with --chaos only, one stopped and restarted
 * service. --chaos takes the state directory's lock; plain verify does not (it may run beside `up`).
 * Collaborators come in through `VerifyDeps` so tests can drive the command with test doubles.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { Facts } from '../../facts/types.js';
import type { Inventory } from '../../inventory/schema.js';
import type { SmokeReport } from '../../smoke/runner.js';
import type { Layer, LayerId } from '../../smoke/check.js';
import type { CommandLogSink, RemoteHost } from '../../transport/types.js';
import type { CliContext } from '../output.js';

export interface VerifyCommandOptions {
  output?: string;
  smokeImage?: string;
  imageArchive?: string;
  timeout?: string;
  layers?: string[];
  chaos?: boolean;
  quiet?: boolean;
  strictHostKeys?: boolean;
  acceptChangedHostKeys?: boolean;
}

export interface VerifyDeps {
  loadInventory(file: string): Promise<{ inventory: Inventory; path: string; stateDir: string }>;
  /** connect to every host; unreachable ones are reported, not thrown */
  connect(args: {
    inventory: Inventory;
    inventoryPath: string;
    stateDir: string;
    log: CommandLogSink;
    strictHostKeys: boolean;
    acceptChangedHostKeys: boolean;
    say(line: string): void;
  }): Promise<{ remotes: ReadonlyMap<string, RemoteHost>; unreachable: ReadonlyMap<string, string>; closeAll(): void }>;
  gatherFacts(remote: RemoteHost): Promise<Facts>;
  /** pod subnet per node as `up` allocated it (state dir pod-subnets.json, else the fresh allocation) */
  podSubnets(inventory: Inventory, stateDir: string): Promise<Record<string, string>>;
  /** the layers to run (tests may pass their own) */
  layers?: readonly Layer[];
}

export async function realDeps(): Promise<VerifyDeps> {
  const [{ loadInventory }, transport, { connectForVerify }, { gatherFacts }, subnets, fs] = await Promise.all([
    import('../../inventory/load.js'),
    import('../../transport/index.js'),
    import('../../smoke/connect.js'),
    import('../../facts/gather.js'),
    import('../../steps/cni/subnets.js'),
    import('node:fs/promises'),
  ]);
  return {
    loadInventory,
    gatherFacts: (remote) => gatherFacts(remote),
    async podSubnets(inventory, stateDir) {
      if (inventory.network.cni !== 'bridge') return {};
      let text: string | null = null;
      try {
        text = await fs.readFile(path.join(stateDir, subnets.SUBNETS_FILE), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      return subnets.allocationFor({ inventory }, text === null ? null : subnets.parseSavedSubnets(text)).subnets;
    },
    async connect(a) {
      const targets = transport.targetsFromInventory(a.inventory, { baseDir: path.dirname(a.inventoryPath) });
      return connectForVerify(targets, {
        stateDir: a.stateDir,
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
    },
  };
}

const collect = (value: string, prev: string[] = []): string[] => [...prev, value];

export function register(program: Command, cli: CliContext, deps: () => Promise<VerifyDeps> = realDeps): void {
  program
    .command('verify')
    .description('layered smoke tests of the running cluster: hosts, etcd, containerd + CNI, API endpoint, Kubernetes')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .option('--output <format>', 'text or json', 'text')
    .option('--smoke-image <ref>', 'image for the throwaway containers and pods (default docker.io/kubi/busybox:latest)')
    .option('--image-archive <file>', 'OCI archive of the smoke image, imported on nodes that lack it (default: <artifacts.dir>/images/busybox-oci.tar)')
    .option('--timeout <seconds>', 'how long checks on a converging cluster retry before failing (default 60)')
    .option('--layers <ids>', 'run only these layers: hosts, etcd, containerd, endpoint, kubernetes, chaos (comma-separated or repeated)', collect)
    .option('--chaos', 'also stop one server\'s k3s (or keepalived, or an etcd member) for a moment and show the endpoint survives (changes the cluster briefly)')
    .option('--quiet', 'no progress lines on stderr')
    .option('--strict-host-keys', 'refuse hosts whose SSH host key is not recorded yet (no trust on first use)')
    .option('--accept-changed-host-keys', 'replace changed SSH host keys (throw-away labs only), reporting both fingerprints')
    .addHelpText(
      'after',
      `
Exit codes: 0 every check passed (warnings and "not run" rows allowed), 1 a check failed, 2 invalid input.
Rows: passed, FAILED (with evidence: host, command, last output lines), warning, not run (with the reason).

Examples:
  kubi-provision verify inventories/homelab.yaml
  kubi-provision verify inventories/lab.yaml --layers hosts,etcd --timeout 20
  kubi-provision verify inventories/lab.yaml --output json > verify.json`,
    )
    .action(async (file: string, opts: VerifyCommandOptions) => {
      process.exitCode = await verifyCommand(file, opts, cli, await deps());
    });
}

/** Parse and check the options (UsageError on bad input, before anything is touched). */
export async function parseVerifyOptions(opts: VerifyCommandOptions): Promise<{ output: 'text' | 'json'; timeoutMs?: number; layers?: LayerId[] }> {
  const { UsageError } = await import('../../errors.js');
  const { LAYER_IDS } = await import('../../smoke/check.js');
  const output = opts.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${output}: use text or json`);
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    const s = Number(opts.timeout);
    if (!Number.isFinite(s) || s < 0) throw new UsageError(`--timeout ${opts.timeout}: give a number of seconds (0 or more)`);
    timeoutMs = s * 1000;
  }
  let layers: LayerId[] | undefined;
  if (opts.layers) {
    const ids = opts.layers.flatMap((l) => l.split(',')).map((l) => l.trim()).filter(Boolean);
    const bad = ids.filter((l) => !(LAYER_IDS as readonly string[]).includes(l));
    if (bad.length > 0) throw new UsageError(`--layers: unknown layer ${bad.join(', ')}`, `use any of: ${LAYER_IDS.join(', ')}`);
    layers = ids as LayerId[];
  }
  return { output, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(layers ? { layers } : {}) };
}

export async function verifyCommand(file: string, opts: VerifyCommandOptions, cli: CliContext, deps: VerifyDeps): Promise<number> {
  const { EXIT, KubiError } = await import('../../errors.js');
  const { ensureDir } = await import('../../fs-atomic.js');
  const lockMod = await import('../../engine/lock.js');
  const { RunLog } = await import('../../engine/runlog.js');
  const { createSmokeContext } = await import('../../smoke/context.js');
  const { runSmoke } = await import('../../smoke/runner.js');
  const { renderJson, renderText } = await import('../../smoke/report.js');
  const { SMOKE_LAYERS } = await import('../../smoke/layers/index.js');
  const say = (line: string): void => {
    if (!opts.quiet) cli.output.errLine(line);
  };

  const parsed = await parseVerifyOptions(opts);
  const loaded = await deps.loadInventory(file);
  const inv = loaded.inventory;
  const imageArchive =
    opts.imageArchive !== undefined
      ? path.resolve(opts.imageArchive)
      : inv.artifacts.dir
        ? path.join(path.resolve(path.dirname(loaded.path), inv.artifacts.dir), 'images', 'busybox-oci.tar')
        : undefined;

  await ensureDir(loaded.stateDir, 0o700);
  const lock = opts.chaos
    ? lockMod.acquireLock(loaded.stateDir, 'verify --chaos', { onStale: (stale, why) => say(`note: replacing a stale lock (${lockMod.describeHolder(stale)}): ${why}`) })
    : null;
  const controller = new AbortController();
  const removeSignals = lockMod.handleSignals(() => {
    say('interrupted: finishing the running checks and cleaning up (Ctrl-C again stops at once)');
    controller.abort(new KubiError('interrupted', 'interrupted by the user'));
  });
  const log = RunLog.open(loaded.stateDir, { command: 'verify' });
  let closeAll: (() => void) | undefined;
  let report: SmokeReport;
  try {
    say(`run log: ${log.path}`);
    const conns = await deps.connect({
      inventory: inv,
      inventoryPath: loaded.path,
      stateDir: loaded.stateDir,
      log,
      strictHostKeys: opts.strictHostKeys === true,
      acceptChangedHostKeys: opts.acceptChangedHostKeys === true,
      say,
    });
    closeAll = conns.closeAll;
    const ctx = createSmokeContext({
      inventory: inv,
      remotes: conns.remotes,
      unreachable: conns.unreachable,
      podSubnets: await deps.podSubnets(inv, loaded.stateDir),
      gatherFacts: deps.gatherFacts,
      signal: controller.signal,
      options: {
        chaos: opts.chaos === true,
        ...(opts.smokeImage ? { smokeImage: opts.smokeImage } : {}),
        ...(imageArchive ? { imageArchive } : {}),
        ...(parsed.timeoutMs !== undefined ? { timeoutMs: parsed.timeoutMs } : {}),
        ...(parsed.layers ? { layers: parsed.layers } : {}),
      },
    });
    report = await runSmoke(deps.layers ?? SMOKE_LAYERS, ctx, {
      onLayerStart: (l) => say(`verify: ${l.title}...`),
      onResult: (r) => {
        if (r.status === 'failed') say(`  FAILED ${r.title}${r.host ? ` (${r.host})` : ''}: ${r.message}`);
      },
    });
  } finally {
    closeAll?.();
    log.close();
    removeSignals();
    lock?.release();
  }
  cli.output.out(parsed.output === 'json' ? renderJson(report) : renderText(report, { color: cli.output.color.enabled }));
  if (controller.signal.aborted) return 130;
  return report.ok ? EXIT.ok : EXIT.runFailed;
}
