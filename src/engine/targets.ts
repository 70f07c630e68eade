/** Which inventory hosts a playbook step runs on (pure). Always in inventory order. */
import { EXIT, KubiError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import type { HostSelector } from './playbook.js';
import { didYouMean } from './suggest.js';

export function resolveTargets(selector: HostSelector, inventory: Inventory, stepId: string): Host[] {
  switch (selector.kind) {
    case 'local':
      return [];
    case 'all':
      return [...inventory.hosts];
    case 'roles':
      return inventory.hosts.filter((h) => h.roles.some((r) => selector.roles.includes(r)));
    case 'names': {
      const known = inventory.hosts.map((h) => h.name);
      for (const n of selector.names) {
        if (!known.includes(n)) {
          throw new KubiError('playbook-host-unknown', `step ${stepId} names host ${n}, which is not in the inventory${didYouMean(n, known)}`, {
            exitCode: EXIT.invalidInput,
            step: stepId,
            hint: `hosts in the inventory: ${known.join(', ')}`,
          });
        }
      }
      return inventory.hosts.filter((h) => selector.names.includes(h.name));
    }
  }
}
