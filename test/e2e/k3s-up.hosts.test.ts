/**
 * The whole `up` playbook on a 4-node lab (3 etcd+server, 1 agent), through the CLI:
 *  - `plan --output json` renders the k3s server and agent files it would write, and every key of
 *    every config.yaml is a flag of that k3s command (../shared/data/k3s-flags.json);
 *  - without a k3s binary (the lab has none unless KUBI_K3S_BINARY names one): `up` stops at the
 *    k3s preflight, exit 1, with an error naming the artifact and where to put it; nothing of k3s
 *    reached a host; every step before converged (`up --until endpoint` then plans nothing); the
 *    installed units and the rendered k3s units pass `systemd-analyze verify` on a node;
 *    `kubeconfig` says clearly that no k3s API runs;
 *  - WITH a k3s binary (KUBI_K3S_BINARY=/path/to/k3s): every node becomes Ready, the kubeconfig
 *    works through the VIP, a second `up` changes nothing and the token is in no log. That part
 *    cannot run on a machine without the binary: it is skipped there (it.runIf), not counted.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { contractViolations, plannedFiles } from '../steps/k3s/contract.js';
import { ROOT, kubi, labUp, type TestLab } from '../steps/k3s/lab.js';

const K3S_BINARY = process.env.KUBI_K3S_BINARY?.trim() ?? '';
const K3S_VERSION = 'v1.34.3+k3s1';
let lab: TestLab;
let plan: Parameters<typeof plannedFiles>[0] & { steps: { id: string; hosts: { changes: { kind: string; title?: string }[] }[] }[] };

beforeAll(async () => {
  lab = await labUp({ name: 'kubih9s', subnet: '10.193.0.0/24', nodes: 4, ...(K3S_BINARY ? { k3sBinary: K3S_BINARY } : {}) });
  expect(lab.nodes.map((n) => n.roles.join('+'))).toEqual(['etcd+server', 'etcd+server', 'etcd+server', 'agent']);
  const r = await kubi(['plan', lab.inventory, '--output', 'json', '--quiet']);
  expect(r.status, r.stderr).toBe(0);
  plan = JSON.parse(r.stdout);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  const r = await lab.down();
  expect(r.status, r.stderr).toBe(0);
});

describe('plan over the whole up playbook', () => {
  it('renders the k3s server and agent files it would write, and they pass the k3s contract', () => {
    const files = plannedFiles(plan, 'k3s.configure');
    expect([...files.keys()]).toEqual(['node1', 'node2', 'node3', 'node4']);
    for (const name of ['node1', 'node2', 'node3']) {
      const f = files.get(name)!;
      expect(f.has('/etc/systemd/system/k3s.service')).toBe(true);
      const config = parse(f.get('/etc/rancher/k3s/config.yaml')!) as Record<string, unknown>;
      expect(config['datastore-endpoint']).toBe('https://10.193.0.11:2379,https://10.193.0.12:2379,https://10.193.0.13:2379');
      expect(contractViolations(config, 'server'), name).toEqual([]);
    }
    const agent = files.get('node4')!;
    expect(agent.has('/etc/systemd/system/k3s-agent.service')).toBe(true);
    const config = parse(agent.get('/etc/rancher/k3s/config.yaml')!) as Record<string, unknown>;
    expect(config.server).toBe(`https://${lab.vip}:6443`);
    expect(contractViolations(config, 'agent')).toEqual([]);
  });

  it.skipIf(K3S_BINARY !== '')('shows the missing binary as a change that cannot apply', () => {
    const pre = plan.steps.find((s) => s.id === 'k3s.artifact')!;
    expect(pre.hosts[0]!.changes.map((c) => c.title)).toEqual([`binary k3s ${K3S_VERSION} amd64: missing artifact`]);
    const install = plan.steps.find((s) => s.id === 'k3s.install')!;
    for (const h of install.hosts) expect(h.changes[0]!.title).toBe(`binary k3s ${K3S_VERSION} amd64: missing artifact`);
  });
});

describe.skipIf(K3S_BINARY !== '')('up without a k3s binary', () => {
  it('stops before the first k3s step with a clear error (exit 1); nothing of k3s reached a host', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const dir = `${lab.artifactsDir}/k3s/${K3S_VERSION}`;
    expect(r.stdout).toContain(`failed: k3s.artifact: the k3s binary (k3s ${K3S_VERSION} amd64) is missing: not in the offline directory ${lab.artifactsDir}`);
    expect(r.stdout).toContain(`hint: put the k3s binary at ${dir}/k3s and its checksum file ${dir}/sha256sum-amd64.txt beside it`);
    expect(r.stdout).toContain('kubi-provision lab up --k3s-binary PATH');
    expect(r.stdout).toContain('not run: k3s.token, k3s.install, k3s.configure, k3s.start-servers, k3s.start-agents');
    for (const n of lab.nodes) expect(lab.ssh(n.name, 'test -e /etc/rancher/k3s && echo present || echo absent').trim()).toBe('absent');
    expect(existsSync(path.join(lab.stateDir, 'k3s-token'))).toBe(false);
  });

  it('every step before it converged: a second `up --until endpoint` plans nothing', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet', '--until', 'endpoint']);
    expect(r.status, r.stderr).toBe(0);
    const ids = (parse(readFileSync(path.join(ROOT, 'playbooks/up.yaml'), 'utf8')) as { steps: { id: string }[] }).steps.map((s) => s.id);
    const steps = ids.lastIndexOf('endpoint.configure') + 1;
    expect(steps).toBeGreaterThan(10);
    expect(r.stdout).toMatch(new RegExp(`^up to date: ${steps} steps, \\d+ host-steps, nothing to change`));
  });

  it('the installed units and the rendered k3s units pass systemd-analyze verify on a node', () => {
    const installed = lab.sshResult('node1', 'systemd-analyze verify --man=no /etc/systemd/system/containerd.service /etc/systemd/system/kubi-pod-routes.service 2>&1');
    expect(installed.stdout.trim()).toBe('');
    expect(installed.status).toBe(0);
    // the k3s units as the plan would write them; /usr/local/bin/k3s does not exist here, the only complaint allowed
    const files = plannedFiles(plan, 'k3s.configure');
    for (const [node, unit] of [
      ['node1', 'k3s.service'],
      ['node4', 'k3s-agent.service'],
    ] as const) {
      const content = files.get(node)!.get(`/etc/systemd/system/${unit}`)!;
      const r = lab.sshResult('node1', `d=$(mktemp -d) && cat > "$d/${unit}" && systemd-analyze verify --man=no "$d/${unit}" 2>&1; rc=$?; rm -rf "$d"; exit $rc`, content);
      const complaints = r.stdout.split('\n').filter((l) => l.trim() !== '' && !/Command \/usr\/local\/bin\/k3s is not executable: No such file or directory/.test(l));
      expect(complaints, `${unit}: ${r.stdout}`).toEqual([]);
    }
  });

  it('kubeconfig without k3s running: a clear error, exit 1', async () => {
    const r = await kubi(['kubeconfig', lab.inventory]);
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/no server has a running k3s API to take the kubeconfig from \(node1: the API does not answer \/readyz/);
    expect(r.stdout + r.stderr).toContain(`kubi-provision up ${lab.inventory}`);
    expect(existsSync(path.join(lab.stateDir, 'kubeconfig'))).toBe(false);
  });
});

describe('up with a k3s binary (KUBI_K3S_BINARY)', () => {
  it.runIf(K3S_BINARY !== '')('brings every node to Ready', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const nodes = JSON.parse(lab.ssh('node1', 'k3s kubectl --kubeconfig /etc/rancher/k3s/k3s.yaml get nodes -o json')) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    const ready = nodes.items.filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name);
    expect(ready.sort()).toEqual(['node1', 'node2', 'node3', 'node4']);
  });

  it.runIf(K3S_BINARY !== '')('kubeconfig points at the VIP and works from another node', async () => {
    const out = path.join(lab.dir, 'kubeconfig');
    const r = await kubi(['kubeconfig', lab.inventory, '--output', out]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(parse(text).clusters[0].cluster.server).toBe(`https://${lab.vip}:6443`);
    const nodes = lab.ssh('node4', 'd=$(mktemp -d) && cat > "$d/kc" && k3s kubectl --kubeconfig "$d/kc" get nodes -o name; rc=$?; rm -rf "$d"; exit $rc', text);
    expect(nodes.trim().split('\n').sort()).toEqual(['node/node1', 'node/node2', 'node/node3', 'node/node4']);
  });

  it.runIf(K3S_BINARY !== '')('a second up changes nothing and the token is in no run log', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^up to date: /);
    const token = readFileSync(path.join(lab.stateDir, 'k3s-token'), 'utf8').trim();
    const runs = path.join(lab.stateDir, 'runs');
    for (const f of readdirSync(runs)) expect(readFileSync(path.join(runs, f), 'utf8').includes(token), f).toBe(false);
  });
});
