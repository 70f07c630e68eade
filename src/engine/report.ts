/**
 * The plan report (pure): what each step did or would do on each host, with the exact changes.
 *  - text: unified diffs of files, commands, services, "no changes" per converged host/step,
 *    and totals; secret files as "<secret content, N bytes, sha256 changed>", never content;
 *  - json: the same as data, with a total change count (`plan --output json`);
 *  - runbook: Markdown, step by step and host by host, every file's full content (secrets
 *    masked) and every command as a copy-pasteable shell block (`plan --runbook FILE`).
 * Every string leaves through the redactor.
 */
import path from 'node:path';
import { redactor as defaultRedactor, type Redactor } from '../redact.js';
import { diffStat, unifiedDiff } from '../render/diff.js';
import { asText, sha256 } from '../steps/lib/files.js';
import { shellQuote, quoteWord } from '../transport/quote.js';
import type { Inventory } from '../inventory/schema.js';
import { chownSpec, fingerprintScript, octal, serviceArgv } from './apply.js';
import { describeChange } from './describe.js';
import { LOCAL_TARGET, type HostResult } from './events.js';
import type { RunResult } from './run.js';
import type { Change } from './types.js';

export interface Totals {
  steps: number;
  /** host-step pairs by status */
  upToDate: number;
  changed: number;
  skipped: number;
  failed: number;
  /** number of individual changes */
  changes: number;
  /** hosts with at least one change */
  hostsChanged: string[];
}

export function totals(result: RunResult): Totals {
  const t: Totals = { steps: result.steps.length, upToDate: 0, changed: 0, skipped: 0, failed: 0, changes: 0, hostsChanged: [] };
  const hosts = new Set<string>();
  for (const s of result.steps) {
    for (const h of s.hosts) {
      if (h.status === 'up-to-date') t.upToDate++;
      else if (h.status === 'changed') t.changed++;
      else if (h.status === 'skipped') t.skipped++;
      else t.failed++;
      if (h.status === 'changed') {
        t.changes += h.changes.length;
        hosts.add(h.host);
      }
    }
  }
  t.hostsChanged = [...hosts];
  return t;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const indent = (text: string, by: string): string =>
  text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');

function bytesOf(c: string | Buffer): number {
  return typeof c === 'string' ? Buffer.byteLength(c) : c.length;
}

function textOf(c: string | Buffer): string | undefined {
  return typeof c === 'string' ? c : asText(c);
}

/** The body shown under a file change in the text report (diff or a safe summary). */
function fileBody(c: Extract<Change, { kind: 'file' }>): string {
  if (c.action === 'chmod') return '';
  const n = bytesOf(c.content);
  if (c.secret) return `<secret content, ${n} bytes, ${c.action === 'create' ? 'new file' : 'sha256 changed'}>`;
  const after = textOf(c.content);
  if (after === undefined) return `<binary content, ${n} bytes, sha256 ${sha256(c.content)}>`;
  if (c.action === 'update' && c.before === undefined) return `<content changes (${n} bytes, new sha256 ${sha256(c.content).slice(0, 12)}); previous content not read>`;
  return unifiedDiff(c.path, c.action === 'create' ? null : (c.before ?? null), after).trimEnd();
}

const SIGIL: Record<Change['kind'], string> = { file: '~', mkdir: '+', delete: '-', command: '$', script: '$', service: '>', action: '!' };

export function renderChangeText(c: Change): string {
  let head = `${c.kind === 'file' && c.action === 'create' ? '+' : SIGIL[c.kind]} ${describeChange(c)}`;
  let body = '';
  if (c.kind === 'file') body = fileBody(c);
  else if (c.kind === 'command') body = c.secret ? '<secret command not shown>' : shellQuote(c.argv);
  else if (c.kind === 'script') body = c.secret ? `<secret script, ${bytesOf(c.script)} bytes>` : c.script.trimEnd();
  else if (c.kind === 'service' && c.fingerprint) head += ' (then record its inputs fingerprint)';
  else if (c.kind === 'action') body = c.secret ? '' : (c.detail ?? []).join('\n');
  return body ? `${head}\n${indent(body, '    ')}` : head;
}

/** The last stderr lines a failed remote command carried (RemoteCommandError.stderrTail), if any. */
export function stderrTailOf(error: unknown, max = 10): string[] {
  const tail = (error as { stderrTail?: unknown } | undefined)?.stderrTail;
  return Array.isArray(tail) ? tail.filter((l): l is string => typeof l === 'string').slice(-max) : [];
}

function hostLine(h: HostResult, mode: RunResult['mode']): string {
  const name = h.host;
  switch (h.status) {
    case 'up-to-date':
      return `  ${name}: no changes (up to date)`;
    case 'changed': {
      const verb = mode === 'plan' ? 'would change' : 'changed';
      const lines = h.changes.map((c) => indent(renderChangeText(c), '    '));
      return [`  ${name}: ${verb} (${plural(h.changes.length, 'change')})`, ...lines].join('\n');
    }
    case 'skipped': {
      const planned = h.changes.length > 0 ? ` (${plural(h.changes.length, 'planned change')} not applied)` : '';
      return `  ${name}: skipped: ${h.reason ?? 'not run'}${planned}`;
    }
    case 'failed': {
      const lines = [`  ${name}: FAILED: ${h.error?.message ?? 'unknown error'}`];
      for (const l of stderrTailOf(h.error)) lines.push(`    stderr| ${l}`);
      if (h.error?.hint) lines.push(`    hint: ${h.error.hint}`);
      return lines.join('\n');
    }
  }
}

/** One-paragraph summary: "up to date" when nothing changed, else counts; names the failure. */
export function renderSummary(result: RunResult): string {
  const t = totals(result);
  const lines: string[] = [];
  if (t.changes === 0 && t.failed === 0 && t.skipped === 0 && result.ok) {
    lines.push(`up to date: ${plural(t.steps, 'step')}, ${plural(t.upToDate, 'host-step')}, nothing to change`);
  } else {
    const verb = result.mode === 'plan' ? 'would make' : 'made';
    const parts = [`${verb} ${plural(t.changes, 'change')} on ${plural(t.hostsChanged.length, 'host')}`, `${t.upToDate} up to date`];
    if (t.skipped) parts.push(`${t.skipped} skipped`);
    if (t.failed) parts.push(`${t.failed} failed`);
    lines.push(`${result.mode === 'plan' ? 'plan' : 'done'}: ${parts.join(', ')} (${plural(t.steps, 'step')})`);
    if (result.mode === 'plan' && t.changes > 0) lines.push('nothing was changed: run `up` to apply');
  }
  if (result.failure) {
    const f = result.failure;
    const where = f.host === LOCAL_TARGET ? f.step : `${f.host}: ${f.step}`;
    lines.push(`failed: ${where}: ${f.error.message}`);
    for (const l of stderrTailOf(f.error)) lines.push(`  stderr| ${l}`);
    if (f.error.hint) lines.push(`hint: ${f.error.hint}`);
  } else if (result.interrupted) {
    lines.push('interrupted: work in flight finished, nothing new was started');
  }
  if (result.notRun.length > 0) lines.push(`not run: ${result.notRun.join(', ')}`);
  return lines.join('\n');
}

export function renderText(result: RunResult, redactor: Redactor = defaultRedactor): string {
  const out: string[] = [];
  for (const s of result.steps) {
    out.push(`${s.id}: ${s.title}`);
    if (s.hosts.length === 0) out.push('  (no hosts selected)');
    for (const h of s.hosts) out.push(hostLine(h, result.mode));
    out.push('');
  }
  out.push(renderSummary(result));
  return redactor.redact(out.join('\n')) + '\n';
}

/* ---------------------------------------------------------------- JSON */

export type JsonChange = Record<string, unknown> & { kind: Change['kind'] };

export function changeToJson(c: Change): JsonChange {
  switch (c.kind) {
    case 'file': {
      const out: JsonChange = { kind: 'file', action: c.action, path: c.path, mode: octal(c.mode), bytes: bytesOf(c.content) };
      if (c.owner) out.owner = c.owner;
      if (c.group) out.group = c.group;
      if (c.secret) out.secret = true;
      else {
        out.sha256 = sha256(c.content);
        const after = textOf(c.content);
        if (after === undefined) out.binary = true;
        else if (c.action !== 'chmod' && !(c.action === 'update' && c.before === undefined)) {
          out.diff = unifiedDiff(c.path, c.action === 'create' ? null : (c.before ?? null), after);
        }
      }
      return out;
    }
    case 'mkdir':
      return { kind: 'mkdir', path: c.path, mode: octal(c.mode), ...(c.owner ? { owner: c.owner } : {}), ...(c.group ? { group: c.group } : {}) };
    case 'delete':
      return { kind: 'delete', path: c.path, recursive: c.recursive === true };
    case 'command':
      return c.secret ? { kind: 'command', title: c.title, secret: true } : { kind: 'command', title: c.title, argv: c.argv, command: shellQuote(c.argv) };
    case 'script':
      return c.secret ? { kind: 'script', title: c.title, secret: true } : { kind: 'script', title: c.title, script: c.script };
    case 'service':
      return { kind: 'service', unit: c.unit, action: c.action, ...(c.fingerprint ? { fingerprint: c.fingerprint.value } : {}) };
    case 'action':
      return c.secret ? { kind: 'action', title: c.title, secret: true } : { kind: 'action', title: c.title, detail: c.detail ?? [], ...(c.shell ? { shell: c.shell } : {}) };
  }
}

function redactDeep(v: unknown, r: Redactor): unknown {
  if (typeof v === 'string') return r.redact(v);
  if (Array.isArray(v)) return v.map((x) => redactDeep(x, r));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactDeep(x, r)]));
  return v;
}

/** Machine-readable form of a run (`plan --output json`). */
export function renderJson(result: RunResult, redactor: Redactor = defaultRedactor): Record<string, unknown> {
  const t = totals(result);
  const data = {
    mode: result.mode,
    playbook: result.playbook,
    ok: result.ok,
    upToDate: t.changes === 0 && result.ok,
    totalChanges: t.changes,
    totals: t,
    steps: result.steps.map((s) => ({
      id: s.id,
      title: s.title,
      local: s.local,
      hosts: s.hosts.map((h) => ({
        host: h.host,
        status: h.status,
        durationMs: h.durationMs,
        ...(h.reason ? { reason: h.reason } : {}),
        ...(h.error ? { error: { code: h.error.code, message: h.error.message, ...(h.error.hint ? { hint: h.error.hint } : {}) } } : {}),
        changes: h.changes.map(changeToJson),
      })),
    })),
    notRun: result.notRun,
    ...(result.failure
      ? {
          failure: {
            step: result.failure.step,
            host: result.failure.host,
            code: result.failure.error.code,
            message: result.failure.error.message,
            ...(result.failure.error.hint ? { hint: result.failure.error.hint } : {}),
          },
        }
      : {}),
    interrupted: result.interrupted,
    durationMs: result.durationMs,
  };
  return redactDeep(data, redactor) as Record<string, unknown>;
}

/* ---------------------------------------------------------------- runbook */

export interface RunbookContext {
  inventory: Inventory;
  inventoryPath: string;
  stateDir: string;
  generatedAt: Date;
}

function heredocDelimiter(text: string): string {
  let d = 'KUBI_EOF';
  for (let i = 1; text.split('\n').includes(d); i++) d = `KUBI_EOF_${i}`;
  return d;
}

function fence(lang: string, body: string): string {
  let ticks = '```';
  while (body.includes(ticks)) ticks += '`';
  return `${ticks}${lang}\n${body.replace(/\n$/, '')}\n${ticks}`;
}

/** Shell that writes `content` to `target` exactly (trailing newline or not). */
function writeFileShell(target: string, content: string): string {
  const q = quoteWord(target);
  const d = heredocDelimiter(content);
  const endsWithNewline = content.endsWith('\n');
  const body = endsWithNewline ? content : content + '\n';
  const cmd = endsWithNewline ? `cat > ${q} <<'${d}'` : `head -c -1 > ${q} <<'${d}'`;
  return `${cmd}\n${body}${d}`;
}

function runbookChange(c: Change, n: number, local: boolean, stateDir: string): string {
  const target = (p: string): string => (local ? path.join(stateDir, p) : p);
  const lines: string[] = [];
  switch (c.kind) {
    case 'mkdir': {
      const argv = ['install', '-d', '-m', octal(c.mode)];
      if (c.owner) argv.push('-o', c.owner);
      if (c.group) argv.push('-g', c.group);
      argv.push(target(c.path));
      lines.push(`**${n}.** Create directory \`${target(c.path)}\` (mode ${octal(c.mode)}).`, '', fence('sh', shellQuote(argv)));
      break;
    }
    case 'file': {
      const p = target(c.path);
      const own = chownSpec(c.owner, c.group);
      const meta = [`mode ${octal(c.mode)}`, ...(own ? [`owner ${own}`] : [])].join(', ');
      const fix = [`chmod ${octal(c.mode)} ${quoteWord(p)}`, ...(own ? [`chown ${quoteWord(own)} ${quoteWord(p)}`] : [])].join('\n');
      if (c.action === 'chmod') {
        lines.push(`**${n}.** Fix the mode/owner of \`${p}\` (${meta}); its content is already right.`, '', fence('sh', fix));
        break;
      }
      const verb = c.action === 'create' ? 'Create' : 'Replace';
      const bytes = bytesOf(c.content);
      if (c.secret) {
        lines.push(
          `**${n}.** ${verb} \`${p}\` (${meta}): <secret content, ${bytes} bytes> is not shown here. ` +
            'The tool writes it from the cluster state directory; by hand, copy it there over SSH, then:',
          '',
          fence('sh', fix),
        );
        break;
      }
      const text = textOf(c.content);
      if (text === undefined) {
        lines.push(
          `**${n}.** ${verb} \`${p}\` (${meta}): binary content, ${bytes} bytes, sha256 \`${sha256(c.content)}\`. Upload it (e.g. with scp), check the checksum, then:`,
          '',
          fence('sh', `echo ${sha256(c.content)}  ${quoteWord(p)} | sha256sum -c -\n${fix}`),
        );
        break;
      }
      const stat = c.action === 'update' && c.before != null ? diffStat(unifiedDiff(c.path, c.before, text)) : null;
      const note = stat ? ` (changes: +${stat.added} -${stat.removed} lines)` : '';
      lines.push(`**${n}.** ${verb} \`${p}\` (${meta})${note}:`, '', fence('sh', `${writeFileShell(p, text)}\n${fix}`));
      break;
    }
    case 'delete':
      lines.push(`**${n}.** Delete \`${target(c.path)}\`.`, '', fence('sh', shellQuote(['rm', c.recursive ? '-rf' : '-f', '--', target(c.path)])));
      break;
    case 'command':
      lines.push(`**${n}.** ${c.title}.`, '', c.secret ? '<secret command not shown: it carries a secret>' : fence('sh', shellQuote(c.argv)));
      break;
    case 'script':
      lines.push(`**${n}.** ${c.title}.`, '', c.secret ? '<secret script not shown: it carries a secret>' : fence('bash', c.script));
      break;
    case 'service': {
      const cmd = shellQuote(serviceArgv(c));
      const withFp = c.fingerprint ? `${cmd}\n${fingerprintScript(c.fingerprint).replace(/^set -eu\n/, '')}` : cmd;
      lines.push(`**${n}.** ${describeChange(c)}${c.fingerprint ? ', then record the fingerprint of its inputs' : ''}.`, '', fence('sh', withFp));
      break;
    }
    case 'action':
      lines.push(`**${n}.** ${c.title}.`);
      if (!c.secret && c.detail?.length) lines.push('', ...c.detail.map((d) => `- ${d}`));
      if (!c.secret && c.shell) lines.push('', fence('sh', c.shell));
      break;
  }
  return lines.join('\n');
}

/** The plan as a Markdown runbook: the hard way written out for this cluster. */
export function renderRunbook(result: RunResult, ctx: RunbookContext, redactor: Redactor = defaultRedactor): string {
  const inv = ctx.inventory;
  const out: string[] = [
    `# Runbook: \`${result.playbook}\` for cluster \`${inv.cluster.name}\``,
    '',
    `Generated by kubi-provision on ${ctx.generatedAt.toISOString()} from \`${ctx.inventoryPath}\`.`,
    '',
    'Each section is one step; under it, what to do on each host, in order, as root (prefix with `sudo` otherwise).',
    'Commands are exact and copy-pasteable; secret material (keys, tokens) is never shown.',
    'The plan was computed against the hosts as they are now: once a step is applied, a later step may plan',
    'differently, so re-run `kubi-provision plan` after each step to check (`--only <step>` runs one step).',
    '',
    '| host | address | roles |',
    '|---|---|---|',
    ...inv.hosts.map((h) => `| ${h.name} | ${h.address} | ${h.roles.join(', ')} |`),
    '',
  ];
  result.steps.forEach((s, i) => {
    out.push(`## ${i + 1}. \`${s.id}\`: ${s.title}`, '');
    if (s.hosts.length === 0) out.push('No host is selected for this step.', '');
    for (const h of s.hosts) {
      if (h.host === LOCAL_TARGET) out.push(`### On the workstation (state directory \`${ctx.stateDir}\`)`, '');
      else {
        const host = inv.hosts.find((x) => x.name === h.host);
        out.push(`### ${h.host}${host ? ` (${host.address})` : ''}`, '');
      }
      if (h.status === 'up-to-date') out.push('Up to date: nothing to do.', '');
      else if (h.status === 'failed') out.push(`Could not be planned: ${h.error?.message ?? 'unknown error'}.${h.error?.hint ? ` Hint: ${h.error.hint}` : ''}`, '');
      else if (h.status === 'skipped' && h.changes.length === 0) out.push(`Skipped: ${h.reason ?? 'not run'}.`, '');
      else h.changes.forEach((c, k) => out.push(runbookChange(c, k + 1, h.host === LOCAL_TARGET, ctx.stateDir), ''));
    }
  });
  if (result.notRun.length > 0) out.push('## Not planned', '', `These steps were not planned because the run stopped: ${result.notRun.join(', ')}.`, '');
  out.push('## Summary', '', renderSummary(result), '');
  return redactor.redact(out.join('\n'));
}
