/**
 * Turns zod's issues into the inventory's own: a path, a lower-case one-line message that quotes
 * the offending value safely, and a hint (format hints from formats.ts, "did you mean ...?" for
 * misspelt keys and values, how to write the expected type in YAML).
 */
import type { z } from 'zod';
import { FORMATS } from './formats.js';
import { formatPath, quote } from './errors.js';
import { objectKeys, schemaAt } from './schema-walk.js';
import { describeValue, type PathSegment } from './source.js';
import { closest } from './suggest.js';

export interface SchemaIssue {
  path: PathSegment[];
  at: 'key' | 'value';
  message: string;
  hint: string;
  /** for an unknown key: the allowed key it is probably a misspelling of */
  suggestion?: string;
}

/** What to add when a required field is missing, by path with indexes replaced by []. */
const REQUIRED_HINTS: Record<string, string> = {
  cluster: 'add a cluster section with a name, e.g. cluster: {name: homelab}',
  'cluster.name': 'add `name:` with a lower-case cluster name, e.g. name: homelab',
  hosts: 'add a hosts list with at least one host (name, address, roles)',
  'hosts[].name': 'add `name:` with the host name (lower-case, e.g. pi-1)',
  'hosts[].address': 'add `address:` with the host\'s IPv4 address',
  'hosts[].roles': 'add `roles:`, e.g. roles: [etcd, server] or roles: [agent]',
};

const FORMAT_HINTS = new Map<string, string>(Object.values(FORMATS).map((f) => [f.message, f.hint]));

function normalise(path: readonly PathSegment[]): string {
  return formatPath(path.map((seg) => (typeof seg === 'number' ? -1 : seg))).replace(/\[-1\]/g, '[]');
}

function valueAt(data: unknown, path: readonly PathSegment[]): { found: boolean; value: unknown } {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return { found: false, value: undefined };
    const key = String(seg);
    if (!Object.hasOwn(cur as object, key)) return { found: false, value: undefined };
    cur = (cur as Record<string, unknown>)[key];
  }
  return { found: true, value: cur };
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function typeHint(expected: string, value: unknown, key: string): string {
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
    return `YAML read this as a ${typeof value}; quote it: ${key}: "${String(value)}"`;
  }
  if (expected === 'boolean' && typeof value === 'string') return 'write true or false without quotes (yes/no/on/off are plain strings in YAML 1.2)';
  if ((expected === 'number' || expected === 'int') && typeof value === 'string' && /^\s*-?[0-9.]+\s*$/.test(value)) {
    return 'write the number without quotes';
  }
  if (expected === 'array') return 'write a list, e.g. [etcd, server], or one "- item" per line';
  if (expected === 'object' || expected === 'record') return 'write a mapping: "key: value" lines indented below this key';
  if (value === null) return `give ${key} a value, or remove the key to use the default`;
  return `write ${TYPE_WORDS[expected] ?? expected} here`;
}

function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : quote(value);
}

function lowerFirst(s: string): string {
  return s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s;
}

/** Convert zod issues (from `root.safeParse(data)`) into inventory issues. */
export function convertZodIssues(root: z.ZodType, data: unknown, issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const lastKey = String(path[path.length - 1] ?? 'value');
    const { found, value } = valueAt(data, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = objectKeys(schemaAt(root, path)) ?? [];
        for (const key of issue.keys) {
          const guess = closest(key, allowed);
          out.push({
            path: [...path, key],
            at: 'key',
            message: `unknown key ${quote(key)}`,
            hint: guess ? `did you mean ${quote(guess)}?` : `allowed keys here: ${allowed.join(', ')}`,
            ...(guess ? { suggestion: guess } : {}),
          });
        }
        break;
      }
      case 'invalid_type': {
        if (!found || value === undefined) {
          out.push({
            path,
            at: 'value',
            message: 'required field is missing',
            hint: REQUIRED_HINTS[normalise(path)] ?? `add \`${lastKey}:\``,
          });
        } else {
          const expected = String(issue.expected);
          out.push({
            path,
            at: 'value',
            message: `expected ${TYPE_WORDS[expected] ?? expected}, got ${describeValue(value)}`,
            hint: typeHint(expected, value, lastKey),
          });
        }
        break;
      }
      case 'invalid_value': {
        const options = issue.values.map((v) => String(v));
        const guess = typeof value === 'string' ? closest(value, options) : undefined;
        out.push({
          path,
          at: 'value',
          message: `unknown value ${typeof value === 'string' ? quote(value) : describeValue(value)}; expected one of ${options.join(', ')}`,
          hint: guess ? `did you mean ${quote(guess)}?` : `choose one of ${options.join(', ')}`,
        });
        break;
      }
      case 'invalid_format': {
        const hint = FORMAT_HINTS.get(issue.message);
        out.push({
          path,
          at: 'value',
          message: `${quote(value)} ${hint ? issue.message : lowerFirst(issue.message)}`,
          hint: hint ?? 'check the format of this value',
        });
        break;
      }
      case 'invalid_key': {
        const inner = issue.issues[0]?.message ?? '';
        const hint = FORMAT_HINTS.get(inner);
        out.push({
          path,
          at: 'key',
          message: `key ${quote(lastKey)} ${hint ? inner : 'is not allowed here'}`,
          hint: hint ?? 'check the spelling of this key',
        });
        break;
      }
      case 'too_small': {
        const min = Number(issue.minimum);
        const message =
          issue.origin === 'array'
            ? `needs at least ${min} ${min === 1 ? 'item' : 'items'}`
            : issue.origin === 'string'
              ? 'must not be empty'
              : `must be at least ${min}, got ${shown(value)}`;
        out.push({ path, at: 'value', message, hint: issue.origin === 'array' && lastKey === 'hosts' ? REQUIRED_HINTS.hosts! : 'see the allowed range in the inventory reference' });
        break;
      }
      case 'too_big': {
        const max = Number(issue.maximum);
        const message = issue.origin === 'array' ? `has more than ${max} items` : issue.origin === 'string' ? `is longer than ${max} characters` : `must be at most ${max}, got ${shown(value)}`;
        out.push({ path, at: 'value', message, hint: 'see the allowed range in the inventory reference' });
        break;
      }
      default:
        out.push({ path, at: 'value', message: lowerFirst(issue.message), hint: 'see the inventory reference' });
    }
  }
  return dropMissingWhenMisspelt(out);
}

/**
 * A misspelt key (`adress:`) also leaves the real key missing; the "did you mean" issue says it
 * all, so drop the "required field is missing" issue it explains.
 */
function dropMissingWhenMisspelt(issues: SchemaIssue[]): SchemaIssue[] {
  const explained = new Set<string>();
  for (const i of issues) {
    if (i.suggestion !== undefined) explained.add(formatPath([...i.path.slice(0, -1), i.suggestion]));
  }
  return issues.filter((i) => !(i.message === 'required field is missing' && explained.has(formatPath(i.path))));
}
