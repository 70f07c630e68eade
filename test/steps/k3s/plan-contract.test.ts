/**
 * The k3s config contract on the files of an actual `plan` (src/cli/commands/run.ts with the real
 * inventory loader, playbook and steps; hosts are the FakeHost TEST DOUBLE, fresh and empty):
 * every key of every planned config.yaml, server and agent, is a flag of that k3s command in
 * ../shared/data/k3s-flags.json. No k3s binary is offered, so the plan also shows the binary as
 * a change that cannot apply, and still renders every file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCommand, type RunDeps } from '../../../src/cli/commands/run.js';
import type { CliContext, Colors, Output } from '../../../src/cli/output.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { FakeHost } from '../../engine/fake-host.js';
import { contractViolations, plannedFiles } from './contract.js';
import { makeEnv, type StepEnv } from './env.js';

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
function capture(): { cli: CliContext; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const output: Output = { out: (t) => (out += t), err: (t) => (err += t), line: (t = '') => (out += t + '\n'), errLine: (t = '') => (err += t + '\n'), color: plain, errColor: plain };
  return { cli: { output, debug: false }, out: () => out, err: () => err };
}

let env: StepEnv;
let plan: { steps: { id: string; hosts: { host: string; status: string; changes: { kind: string; title?: string; path?: string }[] }[] }[]; ok: boolean };
let hosts: Map<string, FakeHost>;

beforeAll(async () => {
  env = makeEnv({ k3s: false, facts: { container: 'lxc' } });
  hosts = new Map(env.inv.hosts.map((h) => [h.name, new FakeHost(h.name, h.address)]));
  const deps: RunDeps = {
    loadInventory,
    connect: async (a) => ({ hosts: new Map(a.hosts.map((n) => [n, hosts.get(n)!])), closeAll: () => undefined }),
    gatherFacts: async (r) => env.facts.get(r.name)!,
  };
  const c = capture();
  const code = await runCommand('plan', env.inventoryPath, { only: ['k3s'], output: 'json', quiet: true }, c.cli, deps);
  expect(code, c.err()).toBe(0);
  plan = JSON.parse(c.out());
}, 60_000);

afterAll(() => env?.cleanup());

describe('k3s contract on the files of a plan', () => {
  it('the plan renders config.yaml for every server and the agent', () => {
    const files = plannedFiles(plan, 'k3s.configure');
    expect([...files.keys()]).toEqual(['node1', 'node2', 'node3', 'node4']);
    for (const [, f] of files) expect(f.has('/etc/rancher/k3s/config.yaml')).toBe(true);
  });

  it('every key of every server config is a `k3s server` flag of the right type', () => {
    for (const name of ['node1', 'node2', 'node3']) {
      const config = parse(plannedFiles(plan, 'k3s.configure').get(name)!.get('/etc/rancher/k3s/config.yaml')!) as Record<string, unknown>;
      expect(Object.keys(config).length).toBeGreaterThan(10);
      expect(contractViolations(config, 'server'), name).toEqual([]);
      expect(config['kube-proxy-arg']).toEqual(['conntrack-max-per-core=0']);
    }
  });

  it('every key of the agent config is a `k3s agent` flag (no server-only key), with the endpoint, labels and taints', () => {
    const config = parse(plannedFiles(plan, 'k3s.configure').get('node4')!.get('/etc/rancher/k3s/config.yaml')!) as Record<string, unknown>;
    expect(contractViolations(config, 'agent')).toEqual([]);
    expect(config.server).toBe('https://10.77.0.100:6443');
    expect(config['node-ip']).toEqual(['10.77.0.14']);
    expect(config['node-label']).toEqual(['example.com/tier=edge']);
    expect(config['node-taint']).toEqual(['dedicated=edge:NoSchedule']);
    expect(config['token-file']).toBe('/etc/rancher/k3s/token');
  });

  it('the contract check itself catches a server-only key in an agent config (control)', () => {
    expect(contractViolations({ 'datastore-endpoint': 'https://x:2379', 'node-label': 'a=b' }, 'agent')).toHaveLength(2);
  });

  it('the missing binary shows as a change that cannot apply; nothing was touched on the hosts', () => {
    const install = plan.steps.find((s) => s.id === 'k3s.install')!;
    for (const h of install.hosts) expect(h.changes[0]).toMatchObject({ kind: 'action', title: 'binary k3s v1.34.3+k3s1 amd64: missing artifact' });
    const pre = plan.steps.find((s) => s.id === 'k3s.artifact')!;
    expect(pre.hosts[0]!.changes).toEqual([expect.objectContaining({ kind: 'action', title: 'binary k3s v1.34.3+k3s1 amd64: missing artifact' })]);
    // the token is a secret file: no content, no diff
    const token = install.hosts[0]!.changes.find((c) => c.path === '/etc/rancher/k3s/token') as Record<string, unknown>;
    expect(token).toMatchObject({ kind: 'file', secret: true });
    expect(token.diff).toBeUndefined();
    for (const h of hosts.values()) expect(h.mutatingCalls()).toEqual([]);
  });
});
