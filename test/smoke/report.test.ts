/** Text table and JSON rendering of a smoke report, with and without colour. */
import { describe, expect, it } from 'vitest';
import { renderJson, renderText } from '../../src/smoke/report.js';
import type { SmokeReport } from '../../src/smoke/runner.js';

const report: SmokeReport = {
  cluster: 'lab',
  startedAt: '2026-01-15T12:00:00.000Z',
  durationMs: 12_345,
  ok: false,
  summary: { passed: 2, failed: 1, warning: 0, 'not-run': 1 },
  layers: [
    {
      id: 'hosts',
      title: 'hosts',
      status: 'passed',
      durationMs: 40,
      results: [
        { id: 'hosts.ssh', layer: 'hosts', title: 'ssh works', host: 'node1', status: 'passed', message: 'logged in as root, 3 ms round trip', durationMs: 4 },
        { id: 'hosts.clock-skew', layer: 'hosts', title: 'clock skew between hosts', status: 'passed', message: 'max skew 2.0 ms', durationMs: 30 },
      ],
    },
    {
      id: 'containerd',
      title: 'containerd and CNI',
      status: 'failed',
      durationMs: 12_000,
      results: [
        {
          id: 'containerd.container',
          layer: 'containerd',
          title: 'a container gets an address in the pod subnet',
          host: 'node2',
          status: 'failed',
          message: 'node2: ctr run --cni failed (exit 1)',
          durationMs: 12_000,
          evidence: [{ host: 'node2', command: 'ctr -n kubi-verify run --cni --rm img x\nsecond line', exitCode: 1, output: 'ctr: failed to dial\nconnection refused' }],
        },
      ],
    },
    {
      id: 'kubernetes',
      title: 'Kubernetes',
      status: 'not-run',
      durationMs: 0,
      results: [{ id: 'kubernetes.layer', layer: 'kubernetes', title: 'Kubernetes', status: 'not-run', message: 'k3s is not running', durationMs: 0 }],
    },
  ],
};

describe('renderText', () => {
  const text = renderText(report, { color: false });
  const lines = text.split('\n');

  it('prints one aligned row per check with layer, check, host, result, time and details', () => {
    expect(lines[2]).toMatch(/^LAYER\s+CHECK\s+HOST\s+RESULT\s+TIME\s+DETAILS$/);
    const ssh = lines.find((l) => l.includes('ssh works'))!;
    expect(ssh).toMatch(/^hosts\s+ssh works\s+node1\s+passed\s+4 ms\s+logged in as root, 3 ms round trip$/);
    // the layer name is printed once per layer
    expect(lines.find((l) => l.includes('clock skew'))).toMatch(/^\s+clock skew between hosts\s+-\s+passed/);
    // columns line up: RESULT starts at the same offset in every row
    const col = lines[2]!.indexOf('RESULT');
    expect(ssh.slice(col, col + 6)).toBe('passed');
    expect(lines.find((l) => l.includes('node2: ctr run'))!.slice(col, col + 6)).toBe('FAILED');
  });

  it('shows evidence under failed rows: host, command on one line, exit code, output lines', () => {
    const i = lines.findIndex((l) => l.includes('FAILED'));
    expect(lines[i + 1]).toMatch(/^\s+evidence: node2 \$ ctr -n kubi-verify run --cni --rm img x; second line \(exit 1\)$/);
    expect(lines[i + 2]).toMatch(/^\s+\| ctr: failed to dial$/);
    expect(lines[i + 3]).toMatch(/^\s+\| connection refused$/);
  });

  it('says not run with the reason, and a summary line', () => {
    expect(lines.find((l) => l.startsWith('kubernetes'))).toMatch(/Kubernetes\s+-\s+not run\s+-\s+k3s is not running$/);
    expect(text).toContain('verify FAILED: 2 passed, 1 failed, 0 warnings, 1 not run (12 s)');
  });

  it('has no escape codes without colour and has them with colour', () => {
    expect(text).not.toMatch(/\x1b\[/);
    const coloured = renderText(report, { color: true });
    expect(coloured).toContain('\x1b[1;31mFAILED');
    expect(coloured).toContain('\x1b[32mpassed');
  });
});

describe('renderJson', () => {
  it('is the report with a schema version, parseable', () => {
    const parsed = JSON.parse(renderJson(report)) as Record<string, unknown>;
    expect(parsed.schema).toBe(1);
    expect(parsed.ok).toBe(false);
    expect((parsed.layers as { results: { evidence?: unknown[] }[] }[])[1]!.results[0]!.evidence).toHaveLength(1);
  });
});
