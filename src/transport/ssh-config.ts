/**
 * A small, pure reader of OpenSSH client config files (~/.ssh/config): the keywords the tool
 * honours are HostName, User, Port, IdentityFile and ProxyJump, in `Host` blocks whose patterns
 * use `*`, `?` and `!negation`. As in OpenSSH, the first value found for a keyword wins
 * (IdentityFile accumulates), and lines before the first `Host` apply to every host.
 *
 * Not supported (reported as warnings, never guessed): `Match` blocks (skipped) and `Include`.
 * Tokens: HostName expands %h and %%; IdentityFile expands ~, %d, %h, %r, %u and %%.
 */

export interface SshConfigBlock {
  /** patterns of the `Host` line; null for the global section before the first Host */
  patterns: string[] | null;
  /** `Match` blocks are kept (so their options do not leak into others) but never applied */
  match: boolean;
  /** lower-case keyword -> values in file order */
  options: Map<string, string[]>;
  line: number;
}

export interface ParsedSshConfig {
  blocks: SshConfigBlock[];
  warnings: string[];
}

/** What the config says about one host (only what it sets). */
export interface SshConfigResult {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** ProxyJump value; `none` is returned as null (explicitly no jump) */
  proxyJump?: string | null;
  /** patterns of the Host lines that applied, for diagnostics */
  matched: string[];
}

const HONOURED = new Set(['hostname', 'user', 'port', 'identityfile', 'proxyjump']);

/** Split a config line into keyword and arguments (`Key value`, `Key=value`, "quoted values"). */
export function splitConfigLine(line: string): { key: string; args: string[] } | null {
  const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$/.exec(line);
  if (!m) return null;
  const args: string[] = [];
  const rest = m[2] ?? '';
  const re = /"([^"]*)"|(\S+)/g;
  let t: RegExpExecArray | null;
  while ((t = re.exec(rest)) !== null) {
    const word = t[1] ?? t[2] ?? '';
    if (t[2] !== undefined && word.startsWith('#')) break;
    args.push(word);
  }
  return { key: m[1]!.toLowerCase(), args };
}

export function parseSshConfig(text: string): ParsedSshConfig {
  const blocks: SshConfigBlock[] = [{ patterns: null, match: false, options: new Map(), line: 0 }];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const lineNo = i + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const parsed = splitConfigLine(trimmed);
    if (!parsed) {
      warnings.push(`line ${lineNo}: cannot read "${trimmed}"`);
      return;
    }
    const { key, args } = parsed;
    if (key === 'host') {
      if (args.length === 0) warnings.push(`line ${lineNo}: Host without patterns`);
      blocks.push({ patterns: args, match: false, options: new Map(), line: lineNo });
      return;
    }
    if (key === 'match') {
      warnings.push(`line ${lineNo}: Match blocks are not supported; its options are ignored`);
      blocks.push({ patterns: [], match: true, options: new Map(), line: lineNo });
      return;
    }
    if (key === 'include') {
      warnings.push(`line ${lineNo}: Include is not supported; the included files are not read`);
      return;
    }
    if (!HONOURED.has(key)) return;
    if (args.length === 0) {
      warnings.push(`line ${lineNo}: ${key} without a value`);
      return;
    }
    const block = blocks[blocks.length - 1]!;
    const list = block.options.get(key) ?? [];
    list.push(args.join(' '));
    block.options.set(key, list);
  });
  return { blocks, warnings };
}

/** OpenSSH-style wildcard match: `*` any run, `?` one character; whole string, case-insensitive. */
export function matchPattern(pattern: string, host: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.+()|{}[\]]/g, '\\$&')))
      .join('')}$`,
    'is',
  );
  return re.test(host);
}

/** A `Host` line applies when a positive pattern matches and no `!pattern` does. */
export function hostLineMatches(patterns: readonly string[], host: string): boolean {
  let positive = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchPattern(p.slice(1), host)) return false;
    } else if (matchPattern(p, host)) positive = true;
  }
  return positive;
}

export interface LookupContext {
  /** local home directory, for ~ and %d */
  home: string;
  /** local user name, for %u */
  localUser: string;
}

/**
 * Collect the settings for a host. `candidates` are the names it is known by (the inventory
 * name first, then its address): a block applies when it matches any of them. %h is the first.
 */
export function lookupSshConfig(config: ParsedSshConfig, candidates: readonly string[], ctx: LookupContext): SshConfigResult {
  const alias = candidates[0] ?? '';
  const first = new Map<string, string>();
  const identityRaw: string[] = [];
  const matched: string[] = [];
  for (const block of config.blocks) {
    if (block.match) continue;
    if (block.patterns !== null) {
      const patterns = block.patterns;
      if (!candidates.some((c) => hostLineMatches(patterns, c))) continue;
      matched.push(patterns.join(' '));
    }
    for (const [key, values] of block.options) {
      if (key === 'identityfile') identityRaw.push(...values);
      else if (!first.has(key) && values[0] !== undefined) first.set(key, values[0]);
    }
  }
  const result: SshConfigResult = { identityFiles: [], matched };
  const hostName = first.get('hostname');
  if (hostName !== undefined) result.hostName = expandTokens(hostName, { h: alias });
  const user = first.get('user');
  if (user !== undefined) result.user = user;
  const port = first.get('port');
  if (port !== undefined) {
    const n = Number(port);
    if (Number.isInteger(n) && n >= 1 && n <= 65535) result.port = n;
  }
  const jump = first.get('proxyjump');
  if (jump !== undefined) result.proxyJump = jump.toLowerCase() === 'none' ? null : jump;
  const remoteUser = result.user ?? '';
  const remoteHost = result.hostName ?? alias;
  result.identityFiles = identityRaw.map((f) =>
    expandHome(expandTokens(f, { d: ctx.home, h: remoteHost, r: remoteUser, u: ctx.localUser }), ctx.home),
  );
  return result;
}

/** Expand `%x` tokens from `values`; `%%` is a literal percent; unknown tokens stay as written. */
export function expandTokens(text: string, values: Record<string, string>): string {
  return text.replace(/%(.)/g, (whole, c: string) => (c === '%' ? '%' : values[c] ?? whole));
}

export function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return `${home}/${p.slice(2)}`;
  return p;
}
