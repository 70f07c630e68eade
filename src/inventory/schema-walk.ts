/**
 * Walking the zod schema by path: which keys an object allows (for "did you mean ...?"), and
 * salvaging the parts of a broken inventory that are valid on their own (so the cross-host rules
 * can run, and report, even when the schema found problems elsewhere). Reads zod 4's public
 * `_zod.def` structure; only the wrappers the inventory schema uses are handled.
 */
import type { z } from 'zod';
import type { PathSegment } from './source.js';

type Schema = z.ZodType;

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  keyType?: Schema;
  valueType?: Schema;
}

function defOf(schema: Schema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strip optional/default/prefault/nullable/readonly/pipe wrappers down to the structural schema. */
export function unwrap(schema: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(s);
    if (def.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) {
      s = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      s = def.in;
    } else break;
  }
  return s;
}

/** The schema of a child: an object's key, an array's element, a record's value. */
export function childSchema(schema: Schema, seg: PathSegment): Schema | undefined {
  const def = defOf(unwrap(schema));
  if (def.type === 'object' && def.shape) return Object.hasOwn(def.shape, String(seg)) ? def.shape[String(seg)] : undefined;
  if (def.type === 'array' && typeof seg === 'number') return def.element;
  if (def.type === 'record') return def.valueType;
  return undefined;
}

export function schemaAt(root: Schema, path: readonly PathSegment[]): Schema | undefined {
  let s: Schema | undefined = root;
  for (const seg of path) {
    if (!s) return undefined;
    s = childSchema(s, seg);
  }
  return s;
}

/** The keys an object schema allows, or undefined when the schema is not an object. */
export function objectKeys(schema: Schema | undefined): string[] | undefined {
  if (!schema) return undefined;
  const def = defOf(unwrap(schema));
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * The valid parts of `raw`: a value that parses is returned parsed (defaults applied); a broken
 * object keeps its valid keys, a broken list of objects its valid items (an invalid item becomes
 * undefined, so indexes stay); a broken list of scalars or anything else becomes undefined.
 */
export function salvage(schema: Schema, raw: unknown): unknown {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape && isPlainObject(raw)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(def.shape)) {
      const value = salvage(child, Object.hasOwn(raw, key) ? raw[key] : undefined);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  if (def.type === 'array' && def.element && Array.isArray(raw)) {
    const elementType = defOf(unwrap(def.element)).type;
    if (elementType !== 'object') return undefined;
    return raw.map((item) => salvage(def.element!, item));
  }
  if (def.type === 'record' && def.keyType && def.valueType && isPlainObject(raw)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      const k = def.keyType.safeParse(key);
      const v = def.valueType.safeParse(value);
      if (k.success && v.success) out[key] = v.data;
    }
    return out;
  }
  return undefined;
}
