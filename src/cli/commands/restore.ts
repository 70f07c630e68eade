/**
 * `restore <inventory> <backup> [--yes]`: rebuild the etcd cluster from a snapshot on every
 * member (src/lifecycle/restore.ts; docs/backup-restore.md). Asks first: the current etcd data
 * is moved aside on every member.
 */
import type { Command } from 'commander';
import type { SessionDeps } from '../../lifecycle/session.js';
import type { CliContext } from '../output.js';

export interface RestoreCommandOptions {
  yes?: boolean;
  quiet?: boolean;
}

export function register(program: Command, cli: CliContext, deps?: () => Promise<SessionDeps>): void {
  program
    .command('restore')
    .description('restore the etcd cluster from a backup: every member from the same snapshot, a new cluster token')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .argument('<backup>', 'a backup directory written by `backup`, or its etcd-snapshot.db')
    .option('--yes', 'do not ask (for automation)')
    .option('--quiet', 'no progress output')
    .addHelpText('after', '\nStep by step and what it does: docs/backup-restore.md')
    .action(async (file: string, backup: string, opts: RestoreCommandOptions) => {
      const real = deps ?? (async () => (await import('../../lifecycle/session.js')).realSessionDeps());
      process.exitCode = await restoreCommand(file, backup, opts, cli, await real());
    });
}

export async function restoreCommand(file: string, backup: string, opts: RestoreCommandOptions, cli: CliContext, deps: SessionDeps): Promise<number> {
  const { withSession } = await import('../../lifecycle/session.js');
  const { loadSnapshot, restoreCluster } = await import('../../lifecycle/restore.js');
  const { confirm } = await import('../../lifecycle/confirm.js');
  const { etcdMembers, servers } = await import('../../render/cluster.js');
  const say = (line: string) => cli.output.errLine(line);
  const print = (line: string) => cli.output.line(line);
  const loaded = await deps.loadInventory(file);
  const snapshot = await loadSnapshot(backup);
  if (!snapshot.verified) say(`note: no ${snapshot.file}.sha256 beside the snapshot: its integrity cannot be checked`);
  const members = etcdMembers(loaded.inventory).map((h) => h.name);
  await confirm(
    `restore etcd on ${members.join(', ')}`,
    [
      `restore ${snapshot.file}${snapshot.manifest ? ` (taken ${snapshot.manifest.createdAt} on ${snapshot.manifest.takenFrom})` : ''} on ${members.join(', ')}`,
      'k3s and etcd stop; every member\'s current data is moved aside (<dataDir>.before-restore-<time>); writes made since the snapshot are lost',
    ],
    { ...(opts.yes ? { yes: true } : {}) },
  );
  await withSession(
    {
      command: 'restore',
      inventoryFile: file,
      hosts: (inv) => [...new Set([...etcdMembers(inv), ...servers(inv)].map((h) => h.name))],
      quiet: opts.quiet === true,
      say,
      deps,
    },
    (session) => restoreCluster(session, snapshot, { print }),
  );
  return 0;
}
