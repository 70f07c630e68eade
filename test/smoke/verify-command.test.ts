/**
 * The `verify` command (src/cli/commands/verify.ts) driven with test doubles for inventory loading
 * and connecting (scripted hosts, see harness/scripted-host.ts): exit codes, text and JSON output,
 * option checks, an unreachable host, the run log, and the Kubernetes layer as ONE "not run" row
 * when k3s is not running.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createOutput } from '../../src/cli/output.js';
import { parseVerifyOptions, verifyCommand, type VerifyDeps } from '../../src/cli/commands/verify.js';
import { UsageError } from '../../src/errors.js';
import { failed, type Layer, passed, warning } from '../../src/smoke/check.js';
import { endpointLayer } from '../../src/smoke/layers/endpoint.js';
import { kubernetesLayer } from '../../src/smoke/layers/kubernetes.js';
import { factsFor, testInventory } from './harness/context.js';
import { ScriptedHost } from './harness/scripted-host.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function cli() {
  let out = '';
  let err = '';
  const output = createOutput({ stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} });
  return { ctx: { output, debug: false }, out: () => out, err: () => err };
}

function deps(over: Partial<VerifyDeps> & { hosts?: ScriptedHost[]; unreachable?: Record<string, string> } = {}): VerifyDeps & { stateDir: string } {
  const stateDir = mkdtempSync(join(tmpdir(), 'kubi-verify-state-'));
  dirs.push(stateDir);
  const hosts = over.hosts ?? [];
  return {
    stateDir,
    loadInventory: async (file) => ({ inventory: testInventory(), path: join(stateDir, file), stateDir: join(stateDir, 'state') }),
    connect: async () => ({ remotes: new Map(hosts.map((h) => [h.name, h])), unreachable: new Map(Object.entries(over.unreachable ?? {})), closeAll: () => undefined }),
    gatherFacts: async (r) => factsFor(r.address),
    podSubnets: async () => ({}),
    ...over,
  };
}

const layer = (id: Layer['id'], outcome: ReturnType<typeof passed>): Layer => ({
  id,
  title: id,
  requires: [],
  plan: async () => [{ id: `${id}.x`, layer: id, title: `${id} check`, run: async () => outcome }],
});

describe('verify command', () => {
  it('exits 0 when nothing failed (warnings allowed) and prints the table on stdout', async () => {
    const c = cli();
    const d = deps({ layers: [layer('hosts', passed('fine')), layer('etcd', warning('cert expires in 20 days'))] });
    const code = await verifyCommand('lab.yaml', {}, c.ctx, d);
    expect(code).toBe(0);
    expect(c.out()).toMatch(/^verify: cluster lab\n/);
    expect(c.out()).toMatch(/etcd\s+etcd check\s+-\s+warning\s+\S+ ms\s+cert expires in 20 days/);
    expect(c.out()).toContain('verify passed: 1 passed, 0 failed, 1 warning, 0 not run');
    expect(c.err()).toMatch(/run log: .*runs\/.*-verify\.log/);
    // the state dir is 0700 and the run log was written there
    const state = join(d.stateDir, 'state');
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(state, 'runs')).some((f) => f.endsWith('-verify.log'))).toBe(true);
  });

  it('exits 1 when a check failed, naming it on stderr as it happens', async () => {
    const c = cli();
    const code = await verifyCommand('lab.yaml', {}, c.ctx, deps({ layers: [layer('hosts', failed('node2: swap is on (/dev/vda2)'))] }));
    expect(code).toBe(1);
    expect(c.err()).toContain('FAILED hosts check: node2: swap is on (/dev/vda2)');
    expect(c.out()).toContain('verify FAILED');
  });

  it('prints JSON with --output json, and nothing but the report on stdout', async () => {
    const c = cli();
    const code = await verifyCommand('lab.yaml', { output: 'json', quiet: true }, c.ctx, deps({ layers: [layer('hosts', passed('fine'))] }));
    expect(code).toBe(0);
    const report = JSON.parse(c.out()) as { schema: number; ok: boolean; layers: { results: { status: string }[] }[] };
    expect(report.schema).toBe(1);
    expect(report.layers[0]!.results[0]!.status).toBe('passed');
    expect(c.err()).toBe('');
  });

  it('reports the Kubernetes layer as ONE not-run row when k3s is not running (never passed)', async () => {
    const c = cli();
    const hosts = [1, 2, 3].map(
      (i) =>
        new ScriptedHost(`node${i}`, `10.77.0.1${i}`, [
          { match: /^systemctl is-active k3s$/, reply: { stdout: 'inactive\n', exitCode: 3 } },
          { match: /^systemctl is-active keepalived$/, reply: { stdout: 'active\n' } },
          { match: /^ip -o -4 addr show$/, reply: { stdout: `2: eth0    inet 10.77.0.1${i}/24 brd 10.77.0.255 scope global eth0\n${i === 1 ? '2: eth0    inet 10.77.0.100/24 scope global secondary eth0\n' : ''}` } },
          { match: /dev\/tcp\/10\.77\.0\.100\/6443/, kind: 'script', reply: { stdout: 'bash: connect: Connection refused\nbash: line 1: /dev/tcp/10.77.0.100/6443: Connection refused\n@@tcp-exit=1\n' } },
        ]),
    );
    const code = await verifyCommand('lab.yaml', { output: 'json', quiet: true }, c.ctx, deps({ hosts, layers: [endpointLayer, kubernetesLayer] }));
    const report = JSON.parse(c.out()) as { layers: { id: string; status: string; results: { id: string; status: string; message: string }[] }[] };
    const k8s = report.layers.find((l) => l.id === 'kubernetes')!;
    expect(k8s.results).toEqual([expect.objectContaining({ id: 'kubernetes.layer', status: 'not-run', message: 'k3s is not running' })]);
    const ep = report.layers.find((l) => l.id === 'endpoint')!.results;
    expect(ep.map((r) => [r.id, r.status])).toEqual([
      ['endpoint.keepalived', 'passed'],
      ['endpoint.vip-holder', 'passed'],
      ['endpoint.vip-reachable', 'passed'],
      ['endpoint.api', 'not-run'],
    ]);
    expect(ep[1]!.message).toBe('10.77.0.100 is held by node1 (eth0)');
    expect(ep[2]!.message).toBe(
      '10.77.0.100 answers from node2, node3: connection refused on :6443, nothing listens there because k3s is not running (held by node1)',
    );
    expect(code).toBe(0);
  });

  it('refuses bad options with a usage error before touching anything', async () => {
    await expect(parseVerifyOptions({ output: 'xml' })).rejects.toBeInstanceOf(UsageError);
    await expect(parseVerifyOptions({ timeout: 'soon' })).rejects.toThrow(/--timeout soon/);
    await expect(parseVerifyOptions({ layers: ['hosts,etcdd'] })).rejects.toThrow(/unknown layer etcdd/);
    expect(await parseVerifyOptions({ layers: ['hosts,etcd', 'chaos'], timeout: '2.5' })).toEqual({ output: 'text', timeoutMs: 2500, layers: ['hosts', 'etcd', 'chaos'] });
    let connected = false;
    const d = deps({
      connect: async () => {
        connected = true;
        return { remotes: new Map(), unreachable: new Map(), closeAll: () => undefined };
      },
    });
    await expect(verifyCommand('lab.yaml', { output: 'yaml' }, cli().ctx, d)).rejects.toBeInstanceOf(UsageError);
    expect(connected).toBe(false);
  });
});
