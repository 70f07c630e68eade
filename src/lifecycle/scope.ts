/**
 * Scoping a playbook to some hosts (pure): lifecycle commands run the normal playbooks (up,
 * reset) but only on the host being replaced, removed or reset. The step selection
 * (--only/--from/--until) is applied to the whole playbook first, then every host step keeps
 * only the wanted hosts among its own targets (a step with none left is dropped); local steps
 * (PKI, artifacts) always stay.
 */
import type { Playbook } from '../engine/playbook.js';
import { selectSteps, type Selection } from '../engine/select.js';
import { resolveTargets } from '../engine/targets.js';
import type { Inventory } from '../inventory/schema.js';

export function scopePlaybook(playbook: Playbook, inventory: Inventory, hosts: readonly string[], selection: Selection = {}): Playbook {
  const selected = new Set(selectSteps(playbook.steps.map((s) => s.id), selection));
  const wanted = new Set(hosts);
  const steps = playbook.steps.flatMap((entry) => {
    if (!selected.has(entry.id)) return [];
    if (entry.selector.kind === 'local') return [entry];
    const names = resolveTargets(entry.selector, inventory, entry.id)
      .map((h) => h.name)
      .filter((n) => wanted.has(n));
    return names.length > 0 ? [{ ...entry, selector: { kind: 'names' as const, names } }] : [];
  });
  return { ...playbook, steps };
}
