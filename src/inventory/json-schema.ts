/**
 * The JSON Schema of the inventory (input side: defaults are optional), generated from the zod
 * schema. `kubi-provision schema` prints it; a copy is committed at schema/inventory.schema.json
 * (regenerate with `npm run schema:write`; a test fails when the copy is stale).
 */
import { z } from 'zod';
import { Inventory } from './schema.js';

export function inventoryJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(Inventory, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'kubi-provision inventory',
    description: 'Hosts, roles and settings of a cluster built by kubi-provision. Reference: docs/inventory-reference.md',
    ...rest,
  };
}

/** The schema as committed: 2-space JSON with a trailing newline. */
export function inventoryJsonSchemaText(): string {
  return `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`;
}
