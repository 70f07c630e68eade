/**
 * The YAML side of the inventory: parse text into one document with source positions, refuse
 * what is unsafe or ambiguous (huge files, alias bombs, several documents, syntax errors), and map
 * a path like ['hosts', 2, 'address'] back to a line and column. Pure: no fs.
 */
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit, type Node, type Pair, type YAMLMap } from 'yaml';
import { quote } from './errors.js';

/** Inventories are a few kilobytes; anything past this is refused before parsing. */
export const MAX_INVENTORY_BYTES = 1024 * 1024;
/** Aliases allowed when converting to plain data (the yaml package's guard against alias bombs). */
export const MAX_ALIAS_COUNT = 100;

export type PathSegment = string | number;

/** A problem found while reading YAML, positioned by offset into the text. */
export interface SourceProblem {
  offset: number | null;
  message: string;
  hint: string;
}

export interface ParsedSource {
  /** null when the text could not be turned into one document */
  doc: Document | null;
  lineCounter: LineCounter;
  /** the plain data (undefined when there are problems) */
  data: unknown;
  problems: SourceProblem[];
}

function lowerFirst(s: string): string {
  return s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s;
}

/** Control characters (a tab in a token yaml quotes back) written as escapes: messages stay one plain line. */
function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** yaml's own messages, made one-line and lower-case, with a hint for the common ones. */
function yamlProblem(code: string, message: string, offset: number): SourceProblem {
  const firstLine = escapeControls(lowerFirst(message.split('\n')[0]!.trim()));
  if (/call stack/i.test(firstLine)) {
    return { offset, message: 'yaml: the document is nested too deeply', hint: 'an inventory needs only a few levels of nesting' };
  }
  if (/end with an? [\]}]/.test(firstLine)) {
    return { offset, message: `yaml: ${firstLine}`, hint: 'a [ or { is not closed (or the lines inside it are indented less than the key)' };
  }
  const hints: Record<string, string> = {
    DUPLICATE_KEY: 'each key may appear once per mapping; remove or merge the duplicate',
    BAD_INDENT: 'indent with spaces, the same amount for keys at the same level',
    TAB_AS_INDENT: 'YAML does not allow tabs for indentation; use spaces',
    MISSING_CHAR: 'a bracket, brace or quote is not closed',
    UNEXPECTED_TOKEN: 'check the punctuation around this position (":", "-", quotes, brackets)',
    BAD_ALIAS: 'an alias (*name) must refer to an anchor (&name) defined before it',
    TAG_RESOLVE_FAILED: 'remove the explicit tag (!...); write plain values',
    BAD_DQ_ESCAPE: 'inside "double quotes" a backslash starts an escape; use single quotes for literal backslashes',
    MULTILINE_IMPLICIT_KEY: 'a key must fit on one line; check for a missing ":" or an unclosed quote above',
    BLOCK_AS_IMPLICIT_KEY: 'check the indentation and the ":" after each key',
    BAD_SCALAR_START: 'quote values that start with @ or a backtick',
    MULTIPLE_DOCS: 'an inventory is one YAML document',
    NON_STRING_KEY: 'keys are plain words; quote them if needed',
  };
  return { offset, message: `yaml: ${firstLine}`, hint: hints[code] ?? 'fix the YAML syntax at this position' };
}

/** Parse inventory text. Never throws: every problem is returned with its offset. */
export function parseSource(text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_INVENTORY_BYTES) {
    return {
      doc: null,
      lineCounter,
      data: undefined,
      problems: [
        {
          offset: null,
          message: `the file is too large (${bytes} bytes; an inventory may have at most ${MAX_INVENTORY_BYTES} bytes)`,
          hint: 'an inventory is a short YAML file; check that this is the right file',
        },
      ],
    };
  }
  // prettyErrors must stay off: building pretty context for pathological input can exhaust memory.
  // uniqueKeys stays off too: yaml checks it by scanning the map for every key (quadratic: 20 000
  // keys took seconds); duplicateKeys() below finds the same duplicates in linear time.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  const list: Document[] = Array.isArray(docs) ? (docs as Document[]) : [];
  const withContent = list.filter((d) => d.contents !== null || d.errors.length > 0);
  const doc = withContent[0] ?? list[0] ?? null;
  const problems: SourceProblem[] = [];
  if (withContent.length > 1) {
    const second = withContent[1]!;
    const offset = second.range?.[0] ?? second.contents?.range?.[0] ?? null;
    problems.push({
      offset,
      message: `the file holds ${withContent.length} YAML documents; an inventory is one document`,
      hint: 'remove the "---" separator and the extra documents, or split them into separate files',
    });
  }
  if (doc === null || (doc.contents === null && doc.errors.length === 0)) {
    problems.push({ offset: null, message: 'the inventory is empty', hint: 'start from inventories/single-node.yaml or inventories/homelab.yaml' });
    return { doc, lineCounter, data: undefined, problems };
  }
  for (const e of doc.errors) problems.push(yamlProblem(e.code, e.message, e.pos[0]));
  for (const w of doc.warnings) problems.push(yamlProblem(w.code, w.message, w.pos[0]));
  if (doc.errors.length === 0) for (const offset of duplicateKeys(doc)) problems.push(yamlProblem('DUPLICATE_KEY', 'Map keys must be unique', offset));
  if (problems.length > 0) return { doc, lineCounter, data: undefined, problems };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const firstAlias = findFirstAlias(doc);
    if (/alias count|resource exhaustion/i.test(message)) {
      problems.push({
        offset: firstAlias,
        message: 'yaml: too many alias expansions (an alias bomb?); refused',
        hint: `an inventory needs no aliases; write the values out (at most ${MAX_ALIAS_COUNT} alias expansions are allowed)`,
      });
    } else {
      problems.push({ ...yamlProblem('', message, firstAlias ?? 0) });
    }
    return { doc, lineCounter, data: undefined, problems };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    problems.push({
      offset: doc.contents?.range?.[0] ?? 0,
      message: `the inventory must be a mapping of keys (cluster, hosts, ...), not ${describeValue(data)}`,
      hint: 'start from inventories/single-node.yaml or inventories/homelab.yaml',
    });
  }
  return { doc, lineCounter, data, problems };
}

/** Offsets of keys that repeat a scalar key earlier in the same mapping (one pass, a Set per mapping). */
function duplicateKeys(doc: Document): number[] {
  const out: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const v = pair.key.value;
        const id = `${typeof v}:${String(v)}`;
        if (seen.has(id)) out.push(pair.key.range?.[0] ?? 0);
        else seen.add(id);
      }
    },
  });
  return out;
}

function findFirstAlias(doc: Document): number | null {
  let offset: number | null = null;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? null;
      return visit.BREAK;
    },
  });
  return offset;
}

/** How a value reads in a message: `a string "x"`, `a number 1.7`, `a list`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function keyOf(node: unknown): string {
  if (isScalar(node)) return String(node.value);
  return String(node);
}

/**
 * Where a path points in the source. `at: 'key'` points at the key of the last segment (unknown
 * keys); `'value'` at its value (or at its key when the value is empty). A path that goes past
 * what the document holds (a missing key) points at the deepest existing parent.
 */
export function locate(doc: Document | null, path: readonly PathSegment[], at: 'key' | 'value' = 'value'): number | null {
  if (!doc) return null;
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = pairIndex(node).get(String(seg));
      if (!pair) return offset;
      const keyStart = startOf(pair.key);
      if (last && at === 'key') return keyStart ?? offset;
      if (pair.value === null || pair.value === undefined) return keyStart ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = typeof seg === 'number' ? seg : Number(seg);
      const item = Number.isInteger(index) ? node.items[index] : undefined;
      if (item === undefined || item === null) return offset;
      node = item;
    } else {
      return offset;
    }
    offset = startOf(node) ?? offset;
  }
  return offset;
}

/** Key -> first pair of a mapping, built once per mapping node (locate runs once per issue: keep it linear). */
const pairIndexes = new WeakMap<object, Map<string, Pair<unknown, unknown>>>();
function pairIndex(map: YAMLMap<unknown, unknown>): Map<string, Pair<unknown, unknown>> {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      const k = keyOf(p.key);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndexes.set(map, index);
  }
  return index;
}

function startOf(node: unknown): number | null {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : null;
}

/** 1-based line and column of an offset; 0:0 (the whole file) when there is none. */
export function position(lineCounter: LineCounter, offset: number | null): { line: number; col: number } {
  if (offset === null) return { line: 0, col: 0 };
  return lineCounter.linePos(offset);
}
