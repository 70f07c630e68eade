/**
 * `replace <inventory> <host> [--yes]`: rejoin a rebuilt host (same name; new disk, OS and host
 * key; maybe a new address). Asks first (or --yes), forgets the host's recorded SSH key, then
 * src/lifecycle/replace.ts does the work. Results on stdout, progress on stderr.
 */
import type { Command } from 'commander';
import type { SessionDeps } from '../../lifecycle/session.js';
import type { CliContext } from '../output.js';

export interface ReplaceCommandOptions {
  yes?: boolean;
  until?: string;
  quiet?: boolean;
}

export function register(program: Command, cli: CliContext, deps?: () => Promise<SessionDeps>): void {
  program
    .command('replace')
    .description('rejoin a rebuilt host (new disk or OS, same name, maybe a new address): forget its old SSH key, remove its stale etcd member, add it back')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .argument('<host>', 'name of the host in the inventory')
    .option('--yes', 'do not ask: forget the host key and replace (for automation)')
    .option('--until <step>', 'stop the rejoin after this step of the up playbook (e.g. etcd)')
    .option('--quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Refused (nothing changed) when the etcd members left could not form a majority, e.g. two of
three members down: the message gives the numbers and what to do.

Example:
  kubi-provision replace inventories/homelab.yaml node2 --yes`,
    )
    .action(async (file: string, host: string, opts: ReplaceCommandOptions) => {
      const real = deps ?? (async () => (await import('../../lifecycle/session.js')).realSessionDeps());
      process.exitCode = await replaceCommand(file, host, opts, cli, await real());
    });
}

export async function replaceCommand(file: string, hostName: string, opts: ReplaceCommandOptions, cli: CliContext, deps: SessionDeps): Promise<number> {
  const { withSession } = await import('../../lifecycle/session.js');
  const { replaceHost } = await import('../../lifecycle/replace.js');
  const { confirm } = await import('../../lifecycle/confirm.js');
  const { findHost } = await import('../../render/cluster.js');
  const { KnownHostsFile, fingerprintOf } = await import('../../transport/known-hosts.js');
  const say = (line: string) => cli.output.errLine(line);
  const print = (line: string) => cli.output.line(line);

  const loaded = await deps.loadInventory(file);
  const host = findHost(loaded.inventory, hostName);
  const store = KnownHostsFile.forStateDir(loaded.stateDir);
  const known = await store.lookup(host.name);
  await confirm(
    `replace ${host.name}`,
    [
      `replace ${host.name} (${host.address}): its etcd member is removed and added back, it is prepared again like a new host`,
      known
        ? `its recorded SSH host key (${known.keyType} ${fingerprintOf(known.keyBase64)}, ${known.address}) is forgotten; the key it presents now is recorded`
        : 'no SSH host key is recorded for it: the key it presents now is recorded',
    ],
    { ...(opts.yes ? { yes: true } : {}) },
  );
  if (known) {
    await store.remove(host.name);
    print(`forgot the host key of ${host.name}: ${known.keyType} ${fingerprintOf(known.keyBase64)}`);
  }
  await withSession({ command: 'replace', inventoryFile: file, quiet: opts.quiet === true, say, deps }, (session) =>
    replaceHost(session, host.name, { ...(opts.until ? { selection: { until: opts.until } } : {}), previousAddress: known?.address ?? null, print }),
  );
  return 0;
}
