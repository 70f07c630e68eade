/**
 * InventoryError: every problem found in an inventory file, all at once, each with its file,
 * line, column (1-based, from the YAML source), dotted path, message and hint. No zod or yaml
 * import here, so the CLI's error handler can recognise it without loading the validator.
 */
import { EXIT, KubiError } from '../errors.js';

export interface InventoryIssue {
  /** the inventory file as the user named it */
  file: string;
  /** 1-based; 0 when the problem concerns the whole file (unreadable, too large) */
  line: number;
  /** 1-based; 0 together with line 0 */
  col: number;
  /** e.g. `hosts[2].address`; '' for the document as a whole */
  path: string;
  /** lower-case, one line */
  message: string;
  /** how to fix it */
  hint: string;
}

/** Issues shown at most; the rest are counted (a broken file can produce thousands). */
export const MAX_ISSUES = 50;

export class InventoryError extends KubiError {
  readonly issues: readonly InventoryIssue[];
  /** how many issues were found in total (issues holds at most MAX_ISSUES) */
  readonly total: number;
  readonly file: string;

  constructor(file: string, issues: InventoryIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
    const n = sorted.length;
    super('inventory', `${file}: ${n === 1 ? '1 problem' : `${n} problems`} in the inventory`, {
      exitCode: EXIT.invalidInput,
      hint: n === 1 ? sorted[0]!.hint : 'fix the problems listed above and run `kubi-provision validate` again',
    });
    this.name = 'InventoryError';
    this.file = file;
    this.total = n;
    this.issues = sorted.slice(0, MAX_ISSUES);
  }
}

export function isInventoryError(e: unknown): e is InventoryError {
  return e instanceof InventoryError;
}

/** `file:line:col: path: message` (position and path left out when unknown). */
export function formatIssueLine(issue: InventoryIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** A path of keys and indexes as users read it: hosts[2].labels["example.com/rack"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out === '' ? s : `.${s}`;
      else out += `[${quote(s)}]`;
    }
  }
  return out;
}

/** A value quoted for a one-line message: JSON-escaped (no raw control characters), shortened. */
export function quote(value: unknown, max = 40): string {
  const s = typeof value === 'string' ? value : String(value);
  const short = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(short);
}
