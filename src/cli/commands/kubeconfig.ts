/**
 * `kubi-provision kubeconfig <inventory> [--merge] [--output FILE]`: fetch k3s's admin kubeconfig
 * (/etc/rancher/k3s/k3s.yaml) from the first server whose API answers /readyz, point it at the
 * cluster's endpoint (VIP:port, or that server's address with endpoint mode none), name cluster,
 * user and context after the cluster, and write it to `<stateDir>/kubeconfig` (0600, atomic).
 * `--output FILE` writes a copy there too (0600); `--merge` merges it into $KUBECONFIG's first
 * file or ~/.kube/config (atomic, 0600), replacing only the entries of this cluster's name.
 * The client key is registered with the redactor and never printed. Without a running k3s API
 * on any server: a clear error, exit 1. The pure parts live in src/steps/k3s/kubeconfig.ts.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../output.js';
import type { RunDeps } from './run.js';

export interface KubeconfigOptions {
  merge?: boolean;
  output?: string;
  strictHostKeys?: boolean;
}

export type KubeconfigDeps = Pick<RunDeps, 'loadInventory' | 'connect'> & {
  /** home directory and environment for ~/.kube/config and $KUBECONFIG (tests use a temp dir) */
  home?: string;
  env?: NodeJS.ProcessEnv;
};

export function register(program: Command, cli: CliContext): void {
  program
    .command('kubeconfig')
    .description('write an admin kubeconfig for the cluster (API endpoint from the inventory) to the state directory')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .option('--merge', 'also merge it into ~/.kube/config ($KUBECONFIG\'s first file), keeping every other context')
    .option('--output <file>', 'also write it to this file (0600)')
    .option('--strict-host-keys', 'refuse hosts whose SSH host key is not recorded yet (no trust on first use)')
    .action(async (file: string, opts: KubeconfigOptions) => {
      const { realDeps } = await import('./run.js');
      process.exitCode = await kubeconfigCommand(file, opts, cli, await realDeps());
    });
}

/** The merge target: the first entry of $KUBECONFIG, else ~/.kube/config. */
export function mergeTarget(env: NodeJS.ProcessEnv, home: string): string {
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p.trim() !== '');
  return first ? path.resolve(first) : path.join(home, '.kube', 'config');
}

export async function kubeconfigCommand(file: string, opts: KubeconfigOptions, cli: CliContext, deps: KubeconfigDeps): Promise<number> {
  const { EXIT, KubiError, describeError } = await import('../../errors.js');
  const { ensureDir, writeFileAtomic } = await import('../../fs-atomic.js');
  const { RunLog } = await import('../../engine/runlog.js');
  const { readFile, mkdir } = await import('node:fs/promises');
  const { redactor } = await import('../../redact.js');
  const { K3S_PATHS } = await import('../../render/cluster.js');
  const kc = await import('../../steps/k3s/kubeconfig.js');
  const { serverReadyCommand } = await import('../../steps/k3s/start.js');
  const say = (line: string): void => cli.output.errLine(line);

  const loaded = await deps.loadInventory(file);
  const inv = loaded.inventory;
  await ensureDir(loaded.stateDir, 0o700);
  const log = RunLog.open(loaded.stateDir, { command: 'kubeconfig' });
  const tried: string[] = [];
  let found: { host: string; address: string; yaml: string } | null = null;
  try {
    for (const name of kc.kubeconfigSources(inv)) {
      const host = inv.hosts.find((h) => h.name === name)!;
      let pool: Awaited<ReturnType<KubeconfigDeps['connect']>> | null = null;
      try {
        pool = await deps.connect({
          inventory: inv,
          inventoryPath: loaded.path,
          stateDir: loaded.stateDir,
          hosts: [name],
          log,
          strictHostKeys: opts.strictHostKeys === true,
          acceptChangedHostKeys: false,
          say,
        });
        const remote = pool.hosts.get(name)!;
        const ready = await remote.exec(['sh', '-c', serverReadyCommand()], { mutating: false, allowFailure: true, label: 'probe the k3s API' });
        if (ready.exitCode !== 0 || ready.stdout.trim() !== 'ok') {
          tried.push(`${name}: the API does not answer /readyz (${(ready.stderr || ready.stdout).trim().split('\n').pop() || `exit ${ready.exitCode}`})`);
          continue;
        }
        const content = await remote.getFile(K3S_PATHS.kubeconfig, { sudo: true });
        if (content === null) {
          tried.push(`${name}: no ${K3S_PATHS.kubeconfig}`);
          continue;
        }
        found = { host: name, address: host.address, yaml: content.toString('utf8') };
        for (const s of kc.secretsOf(found.yaml)) redactor.add(s, 'kubeconfig-key');
        break;
      } catch (e) {
        tried.push(`${name}: ${describeError(e).split('\n')[0]}`);
      } finally {
        pool?.closeAll();
      }
    }
  } finally {
    log.close();
  }
  if (!found) {
    throw new KubiError('k3s-not-running', `no server has a running k3s API to take the kubeconfig from (${tried.join('; ') || 'the inventory has no server'})`, {
      exitCode: EXIT.runFailed,
      hint: `bring the cluster up first: kubi-provision up ${file}`,
    });
  }

  const server = kc.endpointUrl(inv, found.address);
  const text = kc.clusterKubeconfig(found.yaml, { name: inv.cluster.name, server });
  for (const s of kc.secretsOf(text)) redactor.add(s, 'kubeconfig-key');
  const target = path.join(loaded.stateDir, 'kubeconfig');
  await writeFileAtomic(target, text, 0o600);
  cli.output.line(`wrote ${target} (context ${inv.cluster.name}, server ${server}, from ${found.host})`);
  if (opts.output) {
    const out = path.resolve(opts.output);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFileAtomic(out, text, 0o600);
    cli.output.line(`wrote ${out}`);
  }
  if (opts.merge) {
    const mergeFile = mergeTarget(deps.env ?? process.env, deps.home ?? os.homedir());
    let existing: string | null = null;
    try {
      existing = await readFile(mergeFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const s of existing === null ? [] : kc.secretsOf(existing)) redactor.add(s, 'kubeconfig-key');
    const merged = kc.mergeKubeconfig(existing, text);
    await mkdir(path.dirname(mergeFile), { recursive: true, mode: 0o700 });
    await writeFileAtomic(mergeFile, merged, 0o600);
    cli.output.line(`merged into ${mergeFile} (current context: ${inv.cluster.name}; other contexts unchanged)`);
  }
  return EXIT.ok;
}
