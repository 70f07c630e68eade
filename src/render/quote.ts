/**
 * Quoting for every syntax the templates write. Templates never interpolate a raw value: each
 * value goes through one of these, so a space, a quote or a `%` in an input cannot change the
 * meaning of a TOML, YAML, JSON, shell, systemd or keepalived file. Values that cannot be written
 * safely in a syntax are refused with a KubiError (code `render-unsafe-value`).
 */
import { EXIT, KubiError } from '../errors.js';

function unsafe(value: string, where: string, why: string): KubiError {
  return new KubiError('render-unsafe-value', `cannot write ${JSON.stringify(value)} into ${where}: ${why}`, {
    exitCode: EXIT.invalidInput,
    hint: 'check the inventory value; names, paths and addresses must not contain control characters or quotes',
  });
}

const CONTROL = /[\u0000-\u001f\u007f]/;
/** characters that need no quoting anywhere we write bare words */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A JSON value (strings are double-quoted and escaped). */
export function json(value: unknown): string {
  const out = JSON.stringify(value);
  if (out === undefined) throw new KubiError('render-internal', `cannot write ${String(value)} as JSON`);
  return out;
}

/** A TOML value: basic strings (JSON string escapes are valid TOML), integers, booleans, arrays of those. */
export function toml(value: string | number | boolean | readonly (string | number | boolean)[]): string {
  if (Array.isArray(value)) return `[${value.map((v) => toml(v)).join(', ')}]`;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new KubiError('render-internal', `cannot write ${value} as a TOML integer`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * A YAML scalar. Strings are always double-quoted (JSON strings are valid YAML): an unquoted
 * `0600` would be read as an octal number, `on`/`yes` as booleans by YAML 1.1 parsers (k3s uses one).
 */
export function yaml(value: string | number | boolean): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A POSIX shell word: bare when it is plainly safe, otherwise single-quoted. */
export function sh(value: string): string {
  if (value.includes('\u0000')) throw unsafe(value, 'a shell script', 'it contains a NUL byte');
  if (PLAIN.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * One argument of a systemd Exec*= line (systemd.syntax / systemd.service "Command lines"):
 * `%` starts a specifier and must be `%%`, `$` starts a variable and must be `$$`, and words are
 * split on whitespace unless double-quoted, inside which `\` and `"` are backslash-escaped.
 * A lone `;` would separate commands.
 */
export function unitArg(value: string): string {
  if (CONTROL.test(value)) throw unsafe(value, 'a systemd unit', 'it contains a control character');
  const escaped = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A whole Exec*= command line; the program must be an absolute path (systemd requires it on older versions). */
export function execLine(argv: readonly string[]): string {
  const [program, ...args] = argv;
  if (program === undefined || !program.startsWith('/')) {
    throw new KubiError('render-internal', `systemd command ${JSON.stringify(program ?? '')} is not an absolute path`);
  }
  return [unitArg(program), ...args.map(unitArg)].join(' ');
}

/**
 * A value in a systemd EnvironmentFile= (KEY=VALUE lines). systemd strips quotes and handles
 * backslashes there and, on recent versions, expands `$VAR`; only values that mean the same
 * under every version are accepted: plain words, or words with spaces wrapped in double quotes.
 */
export function envValue(value: string): string {
  if (CONTROL.test(value)) throw unsafe(value, 'an environment file', 'it contains a control character');
  if (/[$`\\"']/.test(value)) throw unsafe(value, 'an environment file', 'it contains $, `, \\ or a quote');
  if (PLAIN.test(value)) return value;
  return `"${value}"`;
}

/** A bare word in keepalived.conf (interface names, addresses, identifiers): no spaces, quotes, braces or comment starts. */
export function kaWord(value: string): string {
  if (!/^[A-Za-z0-9_.:/@-]+$/.test(value)) throw unsafe(value, 'keepalived.conf', 'only letters, digits and _ . : / @ - are allowed there');
  return value;
}

/** A double-quoted string in keepalived.conf (script paths); keepalived has no escapes, so quotes and newlines are refused. */
export function kaString(value: string): string {
  if (CONTROL.test(value) || value.includes('"')) throw unsafe(value, 'keepalived.conf', 'it contains a quote or a control character');
  return `"${value}"`;
}
