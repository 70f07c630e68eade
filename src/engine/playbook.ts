/**
 * Playbooks are data (`playbooks/*.yaml`): a name, a description and ordered steps, each with a
 * host selector and a strategy. This module validates them (zod) and checks every step id
 * against the step registry at load time, so a typo fails before anything connects.
 *
 *   steps:
 *     - id: etcd.configure
 *       roles: [etcd]          # or hosts: all | hosts: local | names: [node1]
 *       strategy: serial       # parallel (default) | serial = rolling, one host at a time
 *       concurrency: 5         # parallel only; default 10
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { EXIT, KubiError, describeError } from '../errors.js';
import { ROLES, type Role } from '../inventory/schema.js';
import { defaultRegistry, type StepRegistry } from '../steps/registry.js';
import { didYouMean } from './suggest.js';
import { isLocalStep, type AnyStep } from './types.js';

export const DEFAULT_CONCURRENCY = 10;

export type HostSelector =
  | { kind: 'all' }
  | { kind: 'local' }
  | { kind: 'roles'; roles: Role[] }
  | { kind: 'names'; names: string[] };

export interface PlaybookEntry {
  id: string;
  step: AnyStep;
  selector: HostSelector;
  strategy: 'parallel' | 'serial';
  /** bounded parallelism for `parallel` (1 for `serial`) */
  concurrency: number;
}

export interface Playbook {
  name: string;
  description: string;
  /** the file it came from (for messages) */
  file: string;
  steps: PlaybookEntry[];
}

const StepEntrySchema = z.strictObject({
  id: z.string().min(1),
  hosts: z.enum(['all', 'local']).optional(),
  roles: z.array(z.enum(ROLES)).min(1).optional(),
  names: z.array(z.string().min(1)).min(1).optional(),
  strategy: z.enum(['parallel', 'serial']).default('parallel'),
  concurrency: z.number().int().min(1).max(1000).optional(),
});

const PlaybookSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  steps: z.array(StepEntrySchema),
});

/** A playbook that cannot be used: every problem, each `file:line:col: path: message`. Exit 2. */
export class PlaybookError extends KubiError {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    const first = problems[0] ?? 'invalid playbook';
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super('playbook-invalid', `${first}${more}`, {
      exitCode: EXIT.invalidInput,
      hint: problems.length > 1 ? `fix ${file}:\n  ${problems.join('\n  ')}` : `fix ${file}`,
    });
    this.name = 'PlaybookError';
    this.problems = problems;
  }
}

/** The package's playbooks/ directory (src/engine and dist/engine are both two levels below the root). */
export function playbooksDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'playbooks');
}

/** `up` -> <package>/playbooks/up.yaml; a path (contains / or ends in .yaml) is used as given. */
export function playbookPath(nameOrFile: string): string {
  if (nameOrFile.includes('/') || /\.ya?ml$/.test(nameOrFile)) return path.resolve(nameOrFile);
  return path.join(playbooksDir(), `${nameOrFile}.yaml`);
}

export async function loadPlaybook(nameOrFile: string, registry: StepRegistry = defaultRegistry): Promise<Playbook> {
  const file = playbookPath(nameOrFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new KubiError('playbook-missing', `cannot read playbook ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      exitCode: EXIT.invalidInput,
      hint: 'playbooks live in the playbooks/ directory of the package; pass a name like "up" or a path',
    });
  }
  return parsePlaybook(text, file, registry);
}

/** Pure: validate a playbook's text against the schema and the registry. */
export function parsePlaybook(text: string, file: string, registry: StepRegistry = defaultRegistry): Playbook {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = (p: readonly PropertyKey[]): string => {
    let node: unknown = doc.getIn(p as unknown[], true);
    for (let n = p.length; !isNode(node) && n > 0; n--) node = doc.getIn(p.slice(0, n - 1) as unknown[], true);
    const offset = isNode(node) && node.range ? node.range[0] : 0;
    const pos = lines.linePos(offset);
    return `${file}:${pos.line}:${pos.col}`;
  };
  const fmtPath = (p: readonly PropertyKey[]): string =>
    p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');

  if (doc.errors.length > 0) {
    throw new PlaybookError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${file}:${pos?.line ?? 1}:${pos?.col ?? 1}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 20 });
  } catch (e) {
    throw new PlaybookError(file, [`${file}:1:1: ${describeError(e).toLowerCase()}`]);
  }
  const parsed = PlaybookSchema.safeParse(data);
  if (!parsed.success) {
    throw new PlaybookError(
      file,
      parsed.error.issues.map((i) => `${where(i.path)}: ${fmtPath(i.path) || '(document)'}: ${i.message.toLowerCase()}`),
    );
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries: PlaybookEntry[] = [];
  parsed.data.steps.forEach((raw, i) => {
    const at = (key: string) => `${where(['steps', i, key])}: steps[${i}].${key}`;
    if (seen.has(raw.id)) problems.push(`${at('id')}: step ${raw.id} appears twice`);
    seen.add(raw.id);
    if (!registry.has(raw.id)) {
      problems.push(`${at('id')}: unknown step ${raw.id}${didYouMean(raw.id, registry.ids())}`);
      return;
    }
    const step = registry.get(raw.id);
    const selectors = [raw.hosts !== undefined, raw.roles !== undefined, raw.names !== undefined].filter(Boolean).length;
    if (selectors !== 1) {
      problems.push(`${where(['steps', i])}: steps[${i}]: give exactly one of hosts (all|local), roles or names`);
      return;
    }
    const selector: HostSelector =
      raw.hosts === 'all'
        ? { kind: 'all' }
        : raw.hosts === 'local'
          ? { kind: 'local' }
          : raw.roles
            ? { kind: 'roles', roles: raw.roles }
            : { kind: 'names', names: raw.names ?? [] };
    if (isLocalStep(step) && selector.kind !== 'local') {
      problems.push(`${where(['steps', i])}: steps[${i}]: ${raw.id} runs on the workstation: use hosts: local`);
      return;
    }
    if (!isLocalStep(step) && selector.kind === 'local') {
      problems.push(`${at('hosts')}: ${raw.id} runs on hosts: select them with hosts: all, roles or names`);
      return;
    }
    if (raw.strategy === 'serial' && raw.concurrency !== undefined && raw.concurrency !== 1) {
      problems.push(`${at('concurrency')}: a serial step runs one host at a time: drop concurrency`);
      return;
    }
    entries.push({
      id: raw.id,
      step,
      selector,
      strategy: raw.strategy,
      concurrency: raw.strategy === 'serial' ? 1 : (raw.concurrency ?? DEFAULT_CONCURRENCY),
    });
  });
  if (problems.length > 0) throw new PlaybookError(file, problems);
  return { name: parsed.data.name, description: parsed.data.description, file, steps: entries };
}
