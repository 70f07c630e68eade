/**
 * Properties of parseInventory (fast-check): for random YAML-ish text and for random mutations of
 * valid inventories (dropped keys, changed types, duplicated hosts, random and hostile strings),
 * it either returns an inventory that is valid (schema and rules) or throws an InventoryError
 * whose issues are well-formed; it never throws anything else.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { InventoryError, parseInventory } from '../../src/inventory/load.js';
import { checkRules } from '../../src/inventory/rules.js';
import { Inventory } from '../../src/inventory/schema.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SEEDS: unknown[] = [
  ...readdirSync(path.join(ROOT, 'test/fixtures/inventories'))
    .filter((f) => f.startsWith('valid-'))
    .map((f) => path.join(ROOT, 'test/fixtures/inventories', f)),
  path.join(ROOT, 'inventories/homelab.yaml'),
  path.join(ROOT, 'inventories/single-node.yaml'),
].map((f) => parseYaml(readFileSync(f, 'utf8')) as unknown);

/** Either a valid inventory or an InventoryError with sane issues; anything else fails the property. */
function judge(text: string): 'valid' | 'invalid' {
  let inv;
  try {
    inv = parseInventory(text, 'fuzz.yaml');
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.exitCode).toBe(2);
    for (const i of e.issues) {
      expect(i.file).toBe('fuzz.yaml');
      expect(Number.isInteger(i.line) && i.line >= 0).toBe(true);
      expect(Number.isInteger(i.col) && i.col >= 0).toBe(true);
      // messages and paths are one line without raw control characters (values are quoted)
      // eslint-disable-next-line no-control-regex
      expect(i.message).not.toMatch(/[\x00-\x1f]/);
      // eslint-disable-next-line no-control-regex
      expect(i.path).not.toMatch(/[\x00-\x1f]/);
      expect(i.hint.length).toBeGreaterThan(0);
    }
    return 'invalid';
  }
  expect(Inventory.safeParse(inv).success).toBe(true);
  expect(checkRules(inv)).toEqual([]);
  return 'valid';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function parentOf(root: unknown, p: Array<string | number>): Record<string | number, unknown> | null {
  let cur: unknown = root;
  for (const seg of p.slice(0, -1)) {
    if (!cur || typeof cur !== 'object') return null;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>) : null;
}

const hostile = fc.constantFrom('$(reboot)', '`id`', 'a;b', "it's", 'a"b', 'line\nbreak', '\u001b[31m', '../../etc', '', ' ', '~', 'UPPER', '-x', 'x'.repeat(300));
const anyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  hostile,
  fc.string(),
  fc.integer(),
  fc.constantFrom('etcd', 'server', 'agent', 'none', 'offline', '10.42.0.0/16', '192.168.1.11', 'v1.34.3+k3s1', true, false, null),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: anyValue }),
  fc.record({ kind: fc.constant('dupHost' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), key: fc.oneof(fc.string(), hostile) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(seed: unknown, mutations: Mutation[]): unknown {
  const doc = structuredClone(seed) as Record<string, unknown>;
  for (const m of mutations) {
    const all = paths(doc).filter((p) => p.length > 0);
    if (all.length === 0) break;
    const p = all[m.at % all.length]!;
    const parent = parentOf(doc, p);
    if (!parent) continue;
    const key = p[p.length - 1]!;
    if (m.kind === 'drop') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (m.kind === 'set') {
      parent[key] = m.value;
    } else if (m.kind === 'rename' && !Array.isArray(parent)) {
      const v = parent[key];
      delete parent[key];
      parent[m.key] = v;
    } else if (m.kind === 'dupHost' && Array.isArray(doc.hosts) && doc.hosts.length > 0) {
      doc.hosts.push(structuredClone(doc.hosts[m.at % doc.hosts.length]));
    }
  }
  return doc;
}

describe('parseInventory properties', () => {
  it('the seeds are valid', () => {
    for (const seed of SEEDS) expect(judge(stringify(seed))).toBe('valid');
  });

  it('mutated valid inventories: a valid Inventory or an InventoryError, nothing else', () => {
    const seen = { valid: 0, invalid: 0 };
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
        seen[judge(stringify(mutate(SEEDS[i], ms)))]++;
      }),
      { numRuns: 400 },
    );
    // both outcomes occur, so the property says something about each
    expect(seen.invalid).toBeGreaterThan(0);
    expect(seen.valid).toBeGreaterThan(0);
  });

  it('a tab inside a token yaml quotes back is escaped in the message (found by this property)', () => {
    expect(judge('>\ta\ta')).toBe('invalid');
    let issues: InventoryError['issues'] = [];
    try {
      parseInventory('>\ta\ta', 'fuzz.yaml');
    } catch (e) {
      if (e instanceof InventoryError) issues = e.issues;
    }
    expect(issues.map((i) => i.message)).toEqual(['yaml: not a YAML token: a\\ta']);
  });

  it('random YAML-ish text never escapes as another error', () => {
    const yamlish = fc
      .array(fc.constantFrom('a', 'b', ':', ' ', '  ', '-', '[', ']', '{', '}', ',', '&x', '*x', '!', '|', '>', "'", '"', '#', '\n', '?', '%', '@', '`', '1', '.', 'hosts', 'cluster', '---', '\t', '\\', '<<'), {
        maxLength: 80,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        judge(text);
      }),
      { numRuns: 600 },
    );
  });

  it('random structures that look like inventories never escape as another error', () => {
    const section = fc.dictionary(fc.constantFrom('name', 'address', 'roles', 'vip', 'mode', 'podCidr', 'user', 'labels', 'x'), anyValue, { maxKeys: 4 });
    const doc = fc.record(
      {
        cluster: fc.oneof(section, anyValue),
        endpoint: fc.oneof(section, anyValue),
        network: fc.oneof(section, anyValue),
        hosts: fc.oneof(fc.array(section, { maxLength: 4 }), anyValue),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, (d) => {
        judge(stringify(d));
      }),
      { numRuns: 400 },
    );
  });
});
