/**
 * The one reader of inventory files. `parseInventory` (pure) turns YAML text into a validated
 * Inventory or throws one InventoryError holding every problem (YAML syntax, schema, cross-host
 * rules), each positioned at its line and column. `loadInventory` adds the file system: size and
 * type checks before reading, then absolute local paths and the state directory.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InventoryError, formatPath, type InventoryIssue } from './errors.js';
import { resolveInventoryPaths, resolveStateDir } from './helpers.js';
import { checkRules, type RuleInput } from './rules.js';
import { Inventory } from './schema.js';
import { convertZodIssues } from './schema-issues.js';
import { salvage } from './schema-walk.js';
import { MAX_INVENTORY_BYTES, locate, parseSource, position, type PathSegment } from './source.js';

export interface LoadedInventory {
  /** validated, defaults applied, local paths absolute */
  inventory: Inventory;
  /** absolute path of the inventory file */
  path: string;
  /** absolute state directory (not created here) */
  stateDir: string;
}

export { InventoryError, isInventoryError, formatIssueLine, formatPath, type InventoryIssue } from './errors.js';
export {
  effectiveSsh,
  expandHome,
  hostsWithRole,
  resolveClusterDns,
  resolveLocalPath,
  SSH_DEFAULTS,
  type EffectiveSsh,
} from './helpers.js';
export { MAX_INVENTORY_BYTES } from './source.js';

/**
 * Validate inventory text. Pure (no fs, no network): returns the Inventory with defaults applied
 * (paths as written), or throws InventoryError with all problems. `file` only labels the issues.
 */
export function parseInventory(text: string, file: string): Inventory {
  const src = parseSource(text);
  const issues: InventoryIssue[] = [];
  const add = (p: PathSegment[], at: 'key' | 'value', offset: number | null, message: string, hint: string) => {
    const { line, col } = position(src.lineCounter, offset);
    issues.push({ file, line, col, path: formatPath(p), message, hint });
  };
  for (const p of src.problems) add([], 'value', p.offset, p.message, p.hint);
  if (issues.length > 0) throw new InventoryError(file, issues);

  const result = Inventory.safeParse(src.data);
  const schemaIssues = result.success ? [] : convertZodIssues(Inventory, src.data, result.error.issues);
  for (const i of schemaIssues) add(i.path, i.at, locate(src.doc, i.path, i.at), i.message, i.hint);

  // The rules see only what passed the schema, so they run (and report) even on a broken file.
  const ruleInput = (result.success ? result.data : (salvage(Inventory, src.data) ?? {})) as RuleInput;
  const seen = new Set(schemaIssues.map((i) => formatPath(i.path)));
  for (const r of checkRules(ruleInput)) {
    if (seen.has(formatPath(r.path))) continue;
    add(r.path, r.at ?? 'value', locate(src.doc, r.path, r.at ?? 'value'), r.message, r.hint);
  }
  if (issues.length > 0 || !result.success) throw new InventoryError(file, issues);
  return result.data;
}

function fileProblem(file: string, message: string, hint: string): InventoryError {
  return new InventoryError(file, [{ file, line: 0, col: 0, path: '', message, hint }]);
}

/** Read, validate and resolve an inventory file. Throws InventoryError (exit code 2) on any problem. */
export async function loadInventory(file: string): Promise<LoadedInventory> {
  const abs = path.resolve(file);
  let stat;
  try {
    stat = await fs.stat(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fileProblem(file, 'no such file', 'check the path; example inventories are in inventories/');
    if (code === 'EACCES') throw fileProblem(file, 'permission denied', 'make the file readable by this user');
    throw fileProblem(file, `cannot read the file (${code ?? 'error'})`, 'check the path and its permissions');
  }
  if (stat.isDirectory()) throw fileProblem(file, 'is a directory, not an inventory file', 'name the YAML file, e.g. inventories/homelab.yaml');
  if (!stat.isFile()) throw fileProblem(file, 'is not a regular file', 'name the YAML file, e.g. inventories/homelab.yaml');
  if (stat.size > MAX_INVENTORY_BYTES) {
    throw fileProblem(
      file,
      `the file is too large (${stat.size} bytes; an inventory may have at most ${MAX_INVENTORY_BYTES} bytes)`,
      'an inventory is a short YAML file; check that this is the right file',
    );
  }
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fileProblem(file, code === 'EACCES' ? 'permission denied' : `cannot read the file (${code ?? 'error'})`, 'check the path and its permissions');
  }
  const parsed = parseInventory(text, file);
  const baseDir = path.dirname(abs);
  const inventory = resolveInventoryPaths(parsed, { baseDir });
  return { inventory, path: abs, stateDir: resolveStateDir(parsed, { baseDir }) };
}
