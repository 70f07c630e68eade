/**
 * The committed JSON Schema (schema/inventory.schema.json) matches the zod schema, its patterns
 * are valid ECMAScript (unicode) regexes, and the example inventories point at it, validate, and
 * (homelab) show every field.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventoryJsonSchema, inventoryJsonSchemaText } from '../../src/inventory/json-schema.js';
import { hostsWithRole, parseInventory } from '../../src/inventory/load.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

interface JsonSchemaNode {
  type?: string;
  pattern?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  additionalProperties?: JsonSchemaNode | boolean;
  propertyNames?: JsonSchemaNode;
  required?: string[];
}

function walk(node: JsonSchemaNode, visit: (n: JsonSchemaNode, key: string | null) => void, key: string | null = null): void {
  visit(node, key);
  for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, visit, k);
  if (node.items) walk(node.items, visit);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, visit);
  if (node.propertyNames) walk(node.propertyNames, visit);
}

describe('JSON Schema', () => {
  it('the committed schema/inventory.schema.json is up to date', () => {
    const committed = read('schema/inventory.schema.json');
    expect(committed, 'schema/inventory.schema.json is stale: run `npm run schema:write` and commit it').toBe(inventoryJsonSchemaText());
  });

  it('is the input side: fields with defaults are optional, required ones are listed', () => {
    const schema = inventoryJsonSchema() as JsonSchemaNode;
    expect(schema.required).toEqual(['cluster', 'hosts']);
    expect(schema.properties!.hosts!.items!.required).toEqual(['name', 'address', 'roles']);
    expect(schema.properties!.versions!.required ?? []).toEqual([]);
  });

  it('every pattern compiles as a unicode regular expression and every object is closed', () => {
    let patterns = 0;
    walk(inventoryJsonSchema() as JsonSchemaNode, (n) => {
      if (n.pattern !== undefined) {
        expect(() => new RegExp(n.pattern!, 'u'), n.pattern).not.toThrow();
        patterns++;
      }
      if (n.type === 'object' && n.properties) expect(n.additionalProperties).toBe(false);
    });
    expect(patterns).toBeGreaterThan(15);
  });
});

describe('example inventories', () => {
  for (const f of ['inventories/homelab.yaml', 'inventories/single-node.yaml']) {
    it(`${f} starts with the yaml-language-server schema comment`, () => {
      expect(read(f).split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/inventory.schema.json');
    });
  }

  it('homelab: three etcd+server Pis, two agents, a VIP', () => {
    const inv = parseInventory(read('inventories/homelab.yaml'), 'homelab.yaml');
    expect(hostsWithRole(inv, 'server').map((h) => h.roles)).toEqual([
      ['etcd', 'server'],
      ['etcd', 'server'],
      ['etcd', 'server'],
    ]);
    expect(hostsWithRole(inv, 'agent')).toHaveLength(2);
    expect(inv.endpoint.mode).toBe('keepalived');
    expect(inv.endpoint.vip).toBeDefined();
  });

  it('homelab shows every field of the schema (set or commented out)', () => {
    const text = read('inventories/homelab.yaml');
    const keys = new Set<string>();
    walk(inventoryJsonSchema() as JsonSchemaNode, (n) => Object.keys(n.properties ?? {}).forEach((k) => keys.add(k)));
    expect(keys.size).toBeGreaterThan(40);
    const missing = [...keys].filter((k) => !new RegExp(`^\\s*(#\\s*)?(-\\s+)?${k}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('single-node: one etcd+server host, endpoint mode none', () => {
    const inv = parseInventory(read('inventories/single-node.yaml'), 'single-node.yaml');
    expect(inv.hosts).toHaveLength(1);
    expect(inv.hosts[0]!.roles).toEqual(['etcd', 'server']);
    expect(inv.endpoint.mode).toBe('none');
  });
});

describe('docs/inventory-reference.md', () => {
  it('documents every field of the schema by its dotted path', () => {
    const doc = read('docs/inventory-reference.md');
    const fields: string[] = [];
    const collect = (n: JsonSchemaNode, prefix: string) => {
      for (const [k, child] of Object.entries(n.properties ?? {})) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (child.properties) collect(child, p);
        else if (child.items?.properties) collect(child.items, `${p}[]`);
        else if (!p.startsWith('hosts[].ssh.')) fields.push(p);
      }
    };
    collect(inventoryJsonSchema() as JsonSchemaNode, '');
    expect(fields.length).toBeGreaterThan(35);
    expect(fields.filter((f) => !doc.includes(`\`${f}\``))).toEqual([]);
  });
});
