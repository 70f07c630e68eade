/**
 * Renders a smoke report: a text table (one row per check, evidence under failed and warning rows,
 * ANSI colour only when asked) and JSON (`--output json`, a stable shape with `schema: 1`).
 * Pure: the CLI decides where the text goes and whether colour is on (src/cli/output.ts:
 * NO_COLOR, --no-color, TERM=dumb and non-TTY streams turn it off).
 */
import type { CheckResult, CheckStatus } from './check.js';
import { formatDuration } from './check.js';
import type { SmokeReport } from './runner.js';

const LABEL: Record<CheckStatus, string> = { passed: 'passed', failed: 'FAILED', warning: 'warning', 'not-run': 'not run' };
const COLOR: Record<CheckStatus, string> = { passed: '\x1b[32m', failed: '\x1b[1;31m', warning: '\x1b[33m', 'not-run': '\x1b[2m' };
const RESET = '\x1b[0m';

export function renderText(report: SmokeReport, opts: { color: boolean }): string {
  const paint = (status: CheckStatus, text: string): string => (opts.color ? `${COLOR[status]}${text}${RESET}` : text);
  const rows: CheckResult[] = report.layers.flatMap((l) => l.results);
  const head = ['LAYER', 'CHECK', 'HOST', 'RESULT', 'TIME', 'DETAILS'];
  const cells = rows.map((r) => [r.layer, r.title, r.host ?? '-', LABEL[r.status], r.status === 'not-run' ? '-' : formatDuration(r.durationMs), r.message]);
  const widths = head.slice(0, 5).map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const pad = (s: string, i: number): string => s.padEnd(widths[i]!);
  const lines: string[] = [];
  lines.push(`verify: cluster ${report.cluster}`);
  lines.push('');
  lines.push([...head.slice(0, 5).map(pad), head[5]].join('  '));
  let lastLayer = '';
  rows.forEach((r, idx) => {
    const c = cells[idx]!;
    const layerCell = r.layer === lastLayer ? ''.padEnd(widths[0]!) : pad(c[0]!, 0);
    lastLayer = r.layer;
    const status = paint(r.status, pad(c[3]!, 3));
    lines.push([layerCell, pad(c[1]!, 1), pad(c[2]!, 2), status, pad(c[4]!, 4), c[5]].join('  ').replace(/\s+$/, ''));
    if ((r.status === 'failed' || r.status === 'warning') && r.evidence) {
      const indent = ' '.repeat(widths[0]! + 2);
      for (const ev of r.evidence) {
        const exit = ev.exitCode === undefined ? '' : ` (exit ${ev.exitCode})`;
        lines.push(`${indent}evidence: ${ev.host} $ ${oneLine(ev.command)}${exit}`);
        for (const l of ev.output === '' ? ['(no output)'] : ev.output.split('\n')) lines.push(`${indent}  | ${l}`);
      }
    }
  });
  lines.push('');
  const s = report.summary;
  const verdict = report.ok ? paint('passed', 'verify passed') : paint('failed', 'verify FAILED');
  lines.push(
    `${verdict}: ${s.passed} passed, ${s.failed} failed, ${s.warning} warning${s.warning === 1 ? '' : 's'}, ${s['not-run']} not run (${formatDuration(report.durationMs)})`,
  );
  return lines.join('\n') + '\n';
}

/** Commands in evidence may be multi-line scripts: show them on one line, shortened. */
function oneLine(command: string, max = 400): string {
  const flat = command.replace(/\s*\n\s*/g, '; ');
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

export interface JsonReport extends SmokeReport {
  schema: 1;
}

export function renderJson(report: SmokeReport): string {
  const out: JsonReport = { schema: 1, ...report };
  return JSON.stringify(out, null, 2) + '\n';
}
