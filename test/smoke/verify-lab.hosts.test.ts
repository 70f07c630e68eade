/**
 * `verify` on a real lab (three LXC nodes with systemd and sshd, test/harness/lab.ts) after
 * `kubi-provision up --until endpoint.configure` (etcd with TLS, containerd, bridge CNI + pod
 * routes, keepalived): everything that can run in the lab passes and Kubernetes is ONE "not run:
 * k3s is not running" row; then, one fault at a time, verify fails naming the host and the check
 * with evidence (containerd stopped, a pod route removed) or reports etcd degraded but with quorum
 * naming the stopped member; --chaos stops and restarts an etcd member. Faults are undone after.
 *
 * verify runs in-process through verifyCommand + realDeps (the real loader, transport, facts and
 * layers) because src/cli/main.ts does not register the command yet; `up` runs as the real CLI.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutput } from '../../src/cli/output.js';
import { realDeps, verifyCommand, type VerifyCommandOptions } from '../../src/cli/commands/verify.js';
import type { CheckResult } from '../../src/smoke/check.js';
import type { SmokeReport } from '../../src/smoke/runner.js';
import { type LabHandle, startLab } from '../harness/lab.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let lab: LabHandle;

beforeAll(async () => {
  lab = await startLab({ nodes: 3, namespace: 'kubismoke', subnet: '10.98.0.0/24' });
  const up = await run(process.execPath, [path.join(root, 'bin/kubi-provision.js'), 'up', lab.inventoryPath, '--until', 'endpoint.configure', '--quiet'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((e: { stdout?: string; stderr?: string }) => {
    throw new Error(`up failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  expect(up.stdout).toMatch(/done:/);
});

afterAll(async () => {
  await lab?.down();
});

async function verify(opts: VerifyCommandOptions = {}): Promise<{ code: number; report: SmokeReport; text: string }> {
  let json = '';
  const output = createOutput({ stdout: { write: (s: string) => (json += s) }, stderr: { write: () => true }, env: {} });
  const code = await verifyCommand(lab.inventoryPath, { ...opts, output: 'json', quiet: true }, { output, debug: false }, await realDeps());
  const report = JSON.parse(json) as SmokeReport;
  const { renderText } = await import('../../src/smoke/report.js');
  return { code, report, text: renderText(report, { color: false }) };
}

const rows = (r: SmokeReport): CheckResult[] => r.layers.flatMap((l) => l.results);
const row = (r: SmokeReport, id: string, host?: string): CheckResult => rows(r).find((x) => x.id === id && (host === undefined || x.host === host))!;

describe('verify on the lab', () => {
  it('passes every layer that can run; Kubernetes is one "not run: k3s is not running" row', async () => {
    const { code, report, text } = await verify({ timeout: '60' });
    expect(rows(report).filter((r) => r.status === 'failed' || r.status === 'warning'), text).toEqual([]);
    expect(code).toBe(0);
    const byLayer = Object.fromEntries(report.layers.map((l) => [l.id, l]));
    expect(byLayer.hosts!.status).toBe('passed');
    expect(byLayer.etcd!.status).toBe('passed');
    expect(byLayer.containerd!.status).toBe('passed');
    expect(byLayer.kubernetes!.results).toEqual([expect.objectContaining({ status: 'not-run', message: 'k3s is not running' })]);
    expect(row(report, 'containerd.pod-to-pod').message).toMatch(/^6 pairs answered/);
    expect(row(report, 'hosts.ssh', 'node2').message).toMatch(/^logged in as kubi, sudo works/);
    expect(row(report, 'endpoint.keepalived').status).toBe('passed');
    // ca, server, peer and admin certificates of the etcd steps, on every member
    for (const n of lab.nodes) expect(row(report, 'etcd.cert-expiry', n.name).message).toMatch(/^4 certificates; the first to expire is \S+\.crt in 36[45] days$/);
    // nothing left behind: no smoke container, no key under /kubi-verify/
    for (const n of lab.nodes) expect(lab.ssh(n.name, 'ctr -n kubi-verify containers ls -q </dev/null | wc -l').trim()).toBe('0');
    const keys = lab.ssh(
      'node1',
      'ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key --endpoints https://127.0.0.1:2379 get /kubi-verify/ --prefix --keys-only',
    );
    expect(keys.trim()).toBe('');
  });

  it('with containerd stopped on node2: fails naming node2 and the check, with evidence, exit 1', async () => {
    lab.ssh('node2', 'systemctl stop containerd');
    try {
      const { code, report } = await verify({ timeout: '5', layers: ['containerd'] });
      expect(code).toBe(1);
      const r = row(report, 'containerd.container', 'node2');
      expect(r.status).toBe('failed');
      expect(r.message).toBe('containerd does not answer on node2 (service inactive)');
      expect(r.evidence![0]).toMatchObject({ host: 'node2', exitCode: expect.any(Number) });
      expect(r.evidence![0]!.output).toMatch(/containerd\.sock/);
      expect(row(report, 'containerd.container', 'node1').status).toBe('passed');
    } finally {
      lab.ssh('node2', 'systemctl start containerd');
    }
  });

  it('with a pod route removed on node1: pod-to-pod fails naming node1 -> node3, the routes are the evidence', async () => {
    // the pod subnets as `up` allocated them (state dir beside the lab inventory)
    const saved = JSON.parse(readFileSync(path.join(path.dirname(lab.inventoryPath), '.kubi/lab/pod-subnets.json'), 'utf8')) as { subnets: Record<string, string> };
    const subnet3 = saved.subnets.node3!;
    const route = lab.ssh('node1', 'ip -4 route show proto 77').split('\n').find((l) => l.startsWith(`${subnet3} `))!;
    expect(route, `node1 has a route to ${subnet3}`).toBeTruthy();
    lab.ssh('node1', `ip route del ${subnet3}`);
    try {
      const { code, report } = await verify({ timeout: '5', layers: ['containerd'] });
      expect(code).toBe(1);
      const r = row(report, 'containerd.pod-to-pod');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(/^no answer: node1 -> node3 \(10\.42\.\d+\.\d+ -> 10\.42\.\d+\.\d+:8080, timed out\)/);
      expect(r.message).not.toMatch(/node1 -> node2/);
      const routes = r.evidence!.find((e) => e.command === 'ip -4 route show')!;
      expect(routes.host).toBe('node1');
      expect(routes.output).not.toContain(subnet3);
    } finally {
      lab.ssh('node1', 'systemctl restart kubi-pod-routes');
    }
  });

  it('with an etcd member stopped: degraded but with quorum, naming the member; quorum passes', async () => {
    lab.ssh('node3', 'systemctl stop etcd');
    try {
      const { code, report, text } = await verify({ timeout: '5', layers: ['etcd'] });
      expect(code).toBe(1);
      const health = row(report, 'etcd.health');
      expect(health.status).toBe('failed');
      expect(health.message).toMatch(/^degraded but with quorum: member node3 unhealthy, 2 of 3 healthy — node3 \(https:\/\/10\.98\.0\.13:2379\)/);
      expect(health.evidence!.find((e) => e.host === 'node3')).toMatchObject({ command: 'systemctl is-active etcd', output: 'inactive' });
      expect(row(report, 'etcd.quorum')).toMatchObject({ status: 'passed', message: '2 of 3 members healthy, quorum needs 2 (0 more may fail)' });
      expect(text).toMatch(/every member healthy\s+-\s+FAILED/);
    } finally {
      lab.ssh('node3', 'systemctl start etcd');
    }
  });

  it('--chaos stops an etcd member (no k3s, no VIP holder), shows etcd keeps serving, starts it again', async () => {
    const { code, report, text } = await verify({ timeout: '60', chaos: true, layers: ['etcd', 'chaos'] });
    expect(code, text).toBe(0);
    expect(rows(report).filter((r) => r.layer === 'chaos').map((r) => [r.id, r.host ?? '-', r.status])).toEqual([
      ['chaos.stop', 'node3', 'passed'],
      ['chaos.survives', '-', 'passed'],
      ['chaos.recover', 'node3', 'passed'],
    ]);
    expect(lab.ssh('node3', 'systemctl is-active etcd').trim()).toBe('active');
  });
});
