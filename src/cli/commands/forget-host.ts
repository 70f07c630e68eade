/**
 * `kubi-provision forget-host <inventory> <host>`: remove the recorded SSH host key of a host
 * (after the machine was rebuilt and presents a new key). Only the state directory's
 * known_hosts file changes; nothing is sent to any host. The next connection records the new
 * key (trust on first use) and prints its fingerprint.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { CliContext } from '../output.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('forget-host')
    .description('forget the recorded SSH host key of a rebuilt host (nothing is sent to the host)')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .argument('<host>', 'name of the host in the inventory (or a jump host recorded in known_hosts)')
    .action(async (file: string, hostName: string) => {
      const { loadInventory } = await import('../../inventory/load.js');
      const { KnownHostsFile, fingerprintOf } = await import('../../transport/known-hosts.js');
      const loaded = await loadInventory(file);
      const store = KnownHostsFile.forStateDir(loaded.stateDir);
      const inventoryNames = loaded.inventory.hosts.map((h) => h.name);
      if (!inventoryNames.includes(hostName)) {
        const doc = await store.read();
        const recorded = doc.lines.flatMap((l) => (l.kind === 'entry' ? [l.entry.name] : []));
        if (!recorded.includes(hostName)) {
          const jumps = recorded.filter((n) => !inventoryNames.includes(n));
          throw new UsageError(
            `no host named "${hostName}" in ${file}`,
            `known hosts: ${inventoryNames.join(', ')}${jumps.length > 0 ? `; jump hosts with a recorded key: ${jumps.join(', ')}` : ''}`,
          );
        }
      }
      const removed = await store.remove(hostName);
      if (removed) {
        cli.output.line(`forgot the host key of ${hostName}: ${removed.keyType} ${fingerprintOf(removed.keyBase64)} (removed from ${store.path})`);
        cli.output.line(`the next connection to ${hostName} records the key it presents and prints its fingerprint`);
      } else {
        cli.output.line(`no host key recorded for ${hostName} in ${store.path}: nothing to forget`);
      }
    });
}
