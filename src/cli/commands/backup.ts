/**
 * `backup <inventory> [--output DIR]`: an etcd snapshot from a healthy member plus a copy of the
 * state directory (src/lifecycle/backup.ts; docs/backup-restore.md).
 */
import type { Command } from 'commander';
import type { SessionDeps } from '../../lifecycle/session.js';
import type { CliContext } from '../output.js';

export interface BackupCommandOptions {
  output?: string;
  quiet?: boolean;
}

export function register(program: Command, cli: CliContext, deps?: () => Promise<SessionDeps>): void {
  program
    .command('backup')
    .description('take an etcd snapshot (sha256-checked) and keep it with a copy of the state directory (PKI, token)')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .option('--output <dir>', 'write the backup here (a new or empty directory; default <stateDir>/backups/<time>)')
    .option('--quiet', 'no progress output')
    .action(async (file: string, opts: BackupCommandOptions) => {
      const real = deps ?? (async () => (await import('../../lifecycle/session.js')).realSessionDeps());
      process.exitCode = await backupCommand(file, opts, cli, await real());
    });
}

export async function backupCommand(file: string, opts: BackupCommandOptions, cli: CliContext, deps: SessionDeps): Promise<number> {
  const { withSession } = await import('../../lifecycle/session.js');
  const { takeBackup } = await import('../../lifecycle/backup.js');
  const { etcdMembers } = await import('../../render/cluster.js');
  const say = (line: string) => cli.output.errLine(line);
  const print = (line: string) => cli.output.line(line);
  await withSession(
    { command: 'backup', inventoryFile: file, hosts: (inv) => etcdMembers(inv).map((h) => h.name), quiet: opts.quiet === true, say, deps },
    (session) => takeBackup(session, { ...(opts.output ? { output: opts.output } : {}), print }),
  );
  return 0;
}
