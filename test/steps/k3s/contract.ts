/**
 * The k3s config contract for tests: every key of a rendered config.yaml must be a flag of that
 * k3s command (server or agent) in ../shared/data/k3s-flags.json, allowed in config.yaml, with a
 * YAML value of the flag's type. Also: file contents back out of a plan's unified diffs.
 */
import { k3sFlags, type K3sFlag } from '../../render/helpers/shared-data.js';

export function contractViolations(config: Record<string, unknown>, kind: 'server' | 'agent'): string[] {
  const flags: K3sFlag[] = k3sFlags()[kind];
  const byName = new Map<string, K3sFlag>();
  for (const f of flags) for (const n of [f.name, ...f.aliases]) byName.set(n, f);
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const flag = byName.get(key);
    if (!flag) {
      problems.push(`${key}: not a \`k3s ${kind}\` flag`);
      continue;
    }
    if (!flag.config_yaml_key) problems.push(`${key}: not allowed in config.yaml`);
    const ok =
      flag.type === 'stringSlice'
        ? Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')
        : flag.type === 'bool'
          ? typeof value === 'boolean'
          : flag.type === 'int'
            ? Number.isInteger(value)
            : typeof value === 'string';
    if (!ok) problems.push(`${key}: ${JSON.stringify(value)} is not a ${flag.type}`);
  }
  return problems;
}

/** The new file's content from the unified diff of a created file (`--- /dev/null`). */
export function contentOfCreateDiff(diff: string): string {
  const lines = diff.split('\n');
  const start = lines.findIndex((l) => l.startsWith('@@'));
  if (!lines[0]?.startsWith('--- /dev/null') || start < 0) throw new Error(`not the diff of a new file:\n${diff.slice(0, 200)}`);
  const out: string[] = [];
  let noFinalNewline = false;
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('+')) out.push(l.slice(1));
    else if (l.startsWith('\\ No newline')) noFinalNewline = true;
  }
  return out.join('\n') + (noFinalNewline ? '' : '\n');
}

interface JsonChange {
  kind: string;
  path?: string;
  action?: string;
  diff?: string;
  title?: string;
}
interface JsonPlan {
  steps: { id: string; hosts: { host: string; status: string; changes: JsonChange[] }[] }[];
}

/** From `plan --output json`: the created files of one step, by host: path -> content. */
export function plannedFiles(plan: JsonPlan, stepId: string): Map<string, Map<string, string>> {
  const step = plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`step ${stepId} is not in the plan`);
  const out = new Map<string, Map<string, string>>();
  for (const h of step.hosts) {
    const files = new Map<string, string>();
    for (const c of h.changes) if (c.kind === 'file' && c.action === 'create' && c.path && c.diff) files.set(c.path, contentOfCreateDiff(c.diff));
    out.set(h.host, files);
  }
  return out;
}
