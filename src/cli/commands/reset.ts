/**
 * `reset <inventory> [--host h...] [--yes]`: uninstall what kubi-provision installed (the reset
 * playbook; `plan <inventory> --playbook reset` shows what it would remove). Work in
 * src/lifecycle/reset.ts.
 */
import type { Command } from 'commander';
import type { SessionDeps } from '../../lifecycle/session.js';
import type { CliContext } from '../output.js';

export interface ResetCommandOptions {
  host?: string[];
  yes?: boolean;
  quiet?: boolean;
}

const collect = (value: string, prev: string[] = []): string[] => [...prev, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

export function register(program: Command, cli: CliContext, deps?: () => Promise<SessionDeps>): void {
  program
    .command('reset')
    .description('uninstall what kubi-provision installed (services, network leftovers, data, binaries) on every host or --host (destructive)')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .option('--host <name>', 'only this host (comma-separated or repeated)', collect)
    .option('--yes', 'do not ask (for automation)')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
See what would be removed first:  kubi-provision plan <inventory> --playbook reset
Kept: distribution packages, swap off, the state directory (PKI, token) on this machine.`,
    )
    .action(async (file: string, opts: ResetCommandOptions) => {
      const real = deps ?? (async () => (await import('../../lifecycle/session.js')).realSessionDeps());
      process.exitCode = await resetCommand(file, opts, cli, await real());
    });
}

export async function resetCommand(file: string, opts: ResetCommandOptions, cli: CliContext, deps: SessionDeps): Promise<number> {
  const { withSession } = await import('../../lifecycle/session.js');
  const { resetHosts } = await import('../../lifecycle/reset.js');
  const { confirm } = await import('../../lifecycle/confirm.js');
  const { findHost } = await import('../../render/cluster.js');
  const say = (line: string) => cli.output.errLine(line);
  const print = (line: string) => cli.output.line(line);
  const loaded = await deps.loadInventory(file);
  const hosts = opts.host && opts.host.length > 0 ? opts.host.map((h) => findHost(loaded.inventory, h).name) : loaded.inventory.hosts.map((h) => h.name);
  await confirm(`reset ${hosts.join(', ')}`, [`reset ${hosts.join(', ')}: stop and remove etcd, k3s, containerd, keepalived, CNI and their data (etcd data included)`], {
    ...(opts.yes ? { yes: true } : {}),
  });
  await withSession({ command: 'reset', inventoryFile: file, hosts: () => hosts, quiet: opts.quiet === true, say, deps }, (session) => resetHosts(session, hosts, { print }));
  return 0;
}
