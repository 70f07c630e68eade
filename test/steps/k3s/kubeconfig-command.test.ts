/**
 * `kubi-provision kubeconfig` end to end with its collaborators replaced: the real inventory
 * loader (a temp file) and real files (state directory, a temp HOME), hosts are the FakeNode
 * TEST DOUBLE answering the readiness probe and holding k3s.yaml. The lab test
 * (test/e2e/k3s-up.hosts.test.ts) runs the real command against real nodes without k3s.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kubeconfigCommand, type KubeconfigDeps } from '../../../src/cli/commands/kubeconfig.js';
import type { CliContext, Colors, Output } from '../../../src/cli/output.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { redactor } from '../../../src/redact.js';
import { FakeNode } from '../host/fake-node.js';
import { makeEnv, type StepEnv } from './env.js';

const KEY = 'S1VCSS1URVNULUNMSUVOVC1LRVk=';
const K3S_YAML = `apiVersion: v1
clusters:
- cluster: { certificate-authority-data: Q0E=, server: 'https://127.0.0.1:6443' }
  name: default
contexts:
- context: { cluster: default, user: default }
  name: default
current-context: default
kind: Config
users:
- name: default
  user: { client-certificate-data: Q0VSVA==, client-key-data: ${KEY} }
`;

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };
function capture(): { cli: CliContext; all: () => string } {
  let all = '';
  const output: Output = { out: (t) => (all += t), err: (t) => (all += t), line: (t = '') => (all += t + '\n'), errLine: (t = '') => (all += t + '\n'), color: plain, errColor: plain };
  return { cli: { output, debug: false }, all: () => all };
}

let env: StepEnv;
afterEach(() => env?.cleanup());

function setup(ready: Record<string, boolean>): { deps: KubeconfigDeps; home: string; connected: string[] } {
  env = makeEnv();
  const home = path.join(env.dir, 'home');
  mkdirSync(home);
  const connected: string[] = [];
  const nodes = new Map(
    env.inv.hosts.map((h) => {
      const n = new FakeNode(h.name, h.address);
      n.onExec((argv) => argv[0] === 'sh' && argv[2]!.includes('get --raw /readyz'), () => (ready[h.name] ? 'ok\n' : { exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused' }));
      if (ready[h.name]) n.writeFile('/etc/rancher/k3s/k3s.yaml', K3S_YAML, 0o600);
      return [h.name, n] as const;
    }),
  );
  const deps: KubeconfigDeps = {
    loadInventory,
    connect: async (a) => {
      connected.push(...a.hosts);
      return { hosts: new Map(a.hosts.map((n) => [n, nodes.get(n)!])), closeAll: () => undefined };
    },
    home,
    env: {},
  };
  return { deps, home, connected };
}

describe('kubeconfig command', () => {
  it('takes k3s.yaml from the first healthy server, writes <stateDir>/kubeconfig 0600 pointing at the VIP', async () => {
    const s = setup({ node1: false, node2: true, node3: true });
    const c = capture();
    expect(await kubeconfigCommand(env.inventoryPath, {}, c.cli, s.deps)).toBe(0);
    expect(s.connected).toEqual(['node1', 'node2']);
    const file = path.join(env.stateDir, 'kubeconfig');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const k = parse(readFileSync(file, 'utf8'));
    expect(k.clusters[0]).toEqual({ name: 'test', cluster: { 'certificate-authority-data': 'Q0E=', server: 'https://10.77.0.100:6443' } });
    expect(k['current-context']).toBe('test');
    expect(c.all()).toContain(`wrote ${file} (context test, server https://10.77.0.100:6443, from node2)`);
    expect(c.all()).not.toContain(KEY);
    expect(redactor.redact(KEY)).toBe('<redacted:kubeconfig-key>');
  });

  it('--output writes a copy; --merge keeps the other contexts of ~/.kube/config (0600)', async () => {
    const s = setup({ node1: true });
    mkdirSync(path.join(s.home, '.kube'));
    const existing = 'apiVersion: v1\nkind: Config\nclusters:\n- name: work\n  cluster: { server: "https://work:6443" }\ncontexts:\n- name: work\n  context: { cluster: work, user: work }\nusers:\n- name: work\n  user: { token: work-token-abcdef }\ncurrent-context: work\n';
    writeFileSync(path.join(s.home, '.kube', 'config'), existing, { mode: 0o644 });
    const out = path.join(env.dir, 'copies', 'lab.kubeconfig');
    const c = capture();
    expect(await kubeconfigCommand(env.inventoryPath, { merge: true, output: out }, c.cli, s.deps)).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const merged = parse(readFileSync(path.join(s.home, '.kube', 'config'), 'utf8'));
    expect(statSync(path.join(s.home, '.kube', 'config')).mode & 0o777).toBe(0o600);
    expect(merged.contexts.map((x: { name: string }) => x.name)).toEqual(['work', 'test']);
    expect(merged.users[0]).toEqual({ name: 'work', user: { token: 'work-token-abcdef' } });
    expect(merged['current-context']).toBe('test');
    expect(c.all()).toContain('other contexts unchanged');
  });

  it('no healthy server: a clear error naming what each server said, exit 1, nothing written', async () => {
    const s = setup({});
    const c = capture();
    const err = await kubeconfigCommand(env.inventoryPath, {}, c.cli, s.deps).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'k3s-not-running',
      exitCode: 1,
      message: expect.stringMatching(/^no server has a running k3s API to take the kubeconfig from \(node1: the API does not answer \/readyz \(The connection to the server 127\.0\.0\.1:6443 was refused\); node2: /),
      hint: `bring the cluster up first: kubi-provision up ${env.inventoryPath}`,
    });
    expect(() => statSync(path.join(env.stateDir, 'kubeconfig'))).toThrow();
  });
});
