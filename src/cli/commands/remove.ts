/**
 * `remove <inventory> <host> [--yes] [--force]`: take a host out of the cluster (drain, etcd
 * member removal, reset) and say what to delete from the inventory. The work is in
 * src/lifecycle/remove.ts.
 */
import type { Command } from 'commander';
import type { SessionDeps } from '../../lifecycle/session.js';
import type { CliContext } from '../output.js';

export interface RemoveCommandOptions {
  yes?: boolean;
  force?: boolean;
  quiet?: boolean;
}

export function register(program: Command, cli: CliContext, deps?: () => Promise<SessionDeps>): void {
  program
    .command('remove')
    .description('drain a host, remove its etcd member, reset it, and say what to delete from the inventory')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .argument('<host>', 'name of the host in the inventory')
    .option('--yes', 'do not ask (for automation)')
    .option('--force', 'allow leaving an even number of etcd members')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Refused (nothing changed) when the etcd members left could not form a majority, when it is the
last member, or (without --force) when an even number of members would be left.

Example:
  kubi-provision remove inventories/homelab.yaml node4 --yes`,
    )
    .action(async (file: string, host: string, opts: RemoveCommandOptions) => {
      const real = deps ?? (async () => (await import('../../lifecycle/session.js')).realSessionDeps());
      process.exitCode = await removeCommand(file, host, opts, cli, await real());
    });
}

export async function removeCommand(file: string, hostName: string, opts: RemoveCommandOptions, cli: CliContext, deps: SessionDeps): Promise<number> {
  const { withSession } = await import('../../lifecycle/session.js');
  const { removeHost } = await import('../../lifecycle/remove.js');
  const { confirm } = await import('../../lifecycle/confirm.js');
  const { findHost } = await import('../../render/cluster.js');
  const say = (line: string) => cli.output.errLine(line);
  const print = (line: string) => cli.output.line(line);
  const loaded = await deps.loadInventory(file);
  const host = findHost(loaded.inventory, hostName);
  await confirm(`remove ${host.name}`, [`remove ${host.name} (${host.address}) from the cluster: drained, its etcd member removed, everything kubi-provision installed on it deleted`], {
    ...(opts.yes ? { yes: true } : {}),
  });
  const outcome = await withSession({ command: 'remove', inventoryFile: file, quiet: opts.quiet === true, say, deps }, (session) =>
    removeHost(session, host.name, { force: opts.force === true, print }),
  );
  print(`${host.name} removed. Next:`);
  for (const s of outcome.nextSteps) print(`  - ${s}`);
  return 0;
}
