/**
 * Commands that are not built yet. Each has its real name, arguments and --help; running one
 * first loads and validates the inventory argument (so bad input still exits 2), then says
 * plainly "<command> is not built yet" and exits 1 (NotImplementedError).
 *
 * Replacing a stub: register the real command in main.ts's COMMANDS. Stubs are registered last
 * and skip any name already taken, so nothing here needs to change (delete the entry when done).
 */
import type { Command } from 'commander';
import type { CliContext } from '../output.js';

interface StubSpec {
  name: string;
  description: string;
  /** commander argument specs after <inventory> */
  args: Array<[spec: string, description: string]>;
  /** takes an inventory as its first argument */
  inventory: boolean;
}

const INVENTORY_ARG = 'inventory YAML file, e.g. inventories/homelab.yaml';

export const STUBS: readonly StubSpec[] = [
  { name: 'plan', description: 'show what `up` would change, per host and step, without changing anything', args: [], inventory: true },
  { name: 'up', description: 'bring the cluster to the state the inventory describes (safe to re-run)', args: [], inventory: true },
  { name: 'verify', description: 'run read-only smoke checks against the cluster', args: [], inventory: true },
  { name: 'kubeconfig', description: 'write an admin kubeconfig for the cluster (API endpoint from the inventory)', args: [], inventory: true },
  {
    name: 'replace',
    description: 'rejoin a rebuilt host (new disk or OS, same name): remove its stale etcd member, then add it back',
    args: [['<host>', 'name of the host in the inventory']],
    inventory: true,
  },
  {
    name: 'remove',
    description: 'drain a host and remove it from the cluster (etcd member, node)',
    args: [['<host>', 'name of the host in the inventory']],
    inventory: true,
  },
  { name: 'reset', description: 'uninstall what kubi-provision installed on every host (destructive)', args: [], inventory: true },
  { name: 'backup', description: 'take an etcd snapshot and keep it with the PKI in the state directory', args: [], inventory: true },
  {
    name: 'restore',
    description: 'restore the etcd cluster from a snapshot',
    args: [['<snapshot>', 'snapshot file written by `backup`']],
    inventory: true,
  },
  {
    name: 'forget-host',
    description: 'forget the recorded SSH host key of a rebuilt host (nothing is sent to the host)',
    args: [['<host>', 'name of the host in the inventory']],
    inventory: true,
  },
  {
    name: 'lab',
    description: 'a local lab of throw-away nodes to try kubi-provision on (up, down, demo, status)',
    args: [['[action]', 'up, down, demo or status']],
    inventory: false,
  },
];

export function register(program: Command, _cli: CliContext): void {
  const taken = new Set(program.commands.map((c) => c.name()));
  for (const spec of STUBS) {
    if (taken.has(spec.name)) continue;
    const cmd = program.command(spec.name).description(`${spec.description} [not built yet]`);
    if (spec.inventory) cmd.argument('<inventory>', INVENTORY_ARG);
    for (const [arg, description] of spec.args) cmd.argument(arg, description);
    cmd.action(async (...args: unknown[]) => {
      if (spec.inventory) {
        const { loadInventory } = await import('../../inventory/load.js');
        await loadInventory(String(args[0]));
      }
      const { NotImplementedError } = await import('../../errors.js');
      throw new NotImplementedError(spec.name);
    });
  }
}
