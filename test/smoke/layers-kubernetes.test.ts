/**
 * Kubernetes layer over scripted hosts (TEST DOUBLES) answering with RECONSTRUCTED kubectl outputs
 * (fixtures/kubectl/README.md): k3s cannot run here, so this layer is tested with recorded outputs
 * only. Covers the flow (what runs where, manifests on stdin, cleanup) and the verdicts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/smoke/check.js';
import { kubernetesLayer } from '../../src/smoke/layers/kubernetes.js';
import { judgeEncryptedAtRest, judgeNodes, judgePods, workloadManifest } from '../../src/smoke/parse/kubectl.js';
import { runSmoke } from '../../src/smoke/runner.js';
import { testContext, testInventory } from './harness/context.js';
import { type Rule, ScriptedHost } from './harness/scripted-host.js';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/kubectl/${name}`, import.meta.url), 'utf8');
const inventory = testInventory();
const podsOk = JSON.stringify({ ...JSON.parse(fx('kube-system-pods.json')), items: (JSON.parse(fx('kube-system-pods.json')) as { items: { metadata: { name: string } }[] }).items.filter((p) => !p.metadata.name.startsWith('svclb')) });
const netPods = JSON.stringify({
  items: [1, 2, 3].map((i) => ({
    metadata: { name: `net-${i}` },
    spec: { nodeName: `node${i}` },
    status: { phase: 'Running', podIP: `10.42.${i - 1}.9`, containerStatuses: [{ name: 'httpd', ready: true }] },
  })),
});

function cluster(over: Rule[] = [], k3s: 'active' | 'inactive' = 'active') {
  const state = { manifests: [] as string[], marker: '' };
  const rules = (i: number): Rule[] => [
    ...over,
    { match: /^systemctl is-active k3s$/, reply: { stdout: `${k3s}\n`, exitCode: k3s === 'active' ? 0 : 3 } },
    { match: /^k3s kubectl get nodes -o json$/, reply: { stdout: fx('nodes-ready.json') } },
    { match: /^k3s kubectl get pods -n kube-system -o json$/, reply: { stdout: podsOk } },
    { match: /^k3s kubectl get (nodes|pods -n kube-system) -o wide$/, reply: { stdout: 'NAME STATUS\n' } },
    { match: /^k3s kubectl apply -f -$/, reply: { stdout: 'applied\n' } },
    { match: /etcdctl .* get \/registry\/secrets\/kubi-verify-r001\/kubi-verify-secret --print-value-only$/, reply: { stdout: 'k8s:enc:aescbc:v1:aescbckey:\u0001\u0002\u00ff binary' } },
    { match: /get pods -l app=web -o json$/, reply: { stdout: JSON.stringify({ items: [{ metadata: { name: 'web-1' }, spec: { nodeName: 'node2' }, status: { phase: 'Running', podIP: '10.42.1.9', containerStatuses: [{ name: 'httpd', ready: true }] } }] }) } },
    { match: /logs deploy\/web$/, reply: { stdout: 'kubi-verify-ready\n' } },
    { match: /exec deploy\/web -- cat \/www\/index.html$/, reply: () => ({ stdout: `${state.marker}\n` }) },
    { match: /port-forward/, kind: 'script', reply: () => ({ stdout: `HTTP/1.0 200 OK\r\n\r\n${state.marker}\n@@port-forward-log\nForwarding from 127.0.0.1:2xxxx -> 8080\n` }) },
    { match: /get service web -o json$/, reply: { stdout: JSON.stringify({ spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 31234 }] } }) } },
    { match: /dev\/tcp\/10\.77\.0\.1\d\/31234/, kind: 'script', reply: () => ({ stdout: `HTTP/1.0 200 OK\r\n\r\n${state.marker}\n@@exit=0\n` }) },
    { match: /nslookup kubernetes\.default\.svc\.cluster\.local$/, reply: { stdout: 'Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.43.0.1\n' } },
    { match: /get pods -l app=net -o json$/, reply: { stdout: netPods } },
    { match: /exec net-\d -- timeout 5 wget -q -O - http:\/\/10\.42\.(\d)\.9:8080\/$/, reply: (t) => ({ stdout: `node${Number(t.match(/10\.42\.(\d)\.9/)![1]) + 1}\n` }) },
    { match: /^k3s kubectl delete namespace kubi-verify-r001 --ignore-not-found --wait=false$/, reply: { stdout: 'namespace "kubi-verify-r001" deleted\n' } },
    { match: /^k3s kubectl get namespace kubi-verify-r001 --ignore-not-found -o name$/, reply: { stdout: '' } },
  ];
  const hosts = [1, 2, 3].map((i) => new ScriptedHost(`node${i}`, `10.77.0.1${i}`, rules(i)));
  // the marker is chosen by the layer: read it back from the applied manifest
  const node1 = hosts[0]!;
  const origExec = node1.exec.bind(node1);
  node1.exec = async (argv, opts = {}) => {
    if (argv.join(' ') === 'k3s kubectl apply -f -' && typeof opts.stdin === 'string') {
      state.manifests.push(opts.stdin);
      const m = opts.stdin.match(/echo (kubi-verify-r\d+) >\/www\/index\.html/);
      if (m) state.marker = m[1]!;
    }
    return origExec(argv, opts);
  };
  return { hosts, state };
}

const byId = (rs: CheckResult[], id: string) => rs.find((r) => r.id === id)!;

describe('kubernetes layer', () => {
  it('is ONE not-run row when k3s is not running (never passed)', async () => {
    const { hosts } = cluster([], 'inactive');
    const report = await runSmoke([kubernetesLayer], testContext({ hosts }));
    expect(report.layers[0]!.results).toEqual([expect.objectContaining({ id: 'kubernetes.layer', status: 'not-run', message: 'k3s is not running' })]);
    expect(hosts[0]!.commands()).toEqual(['systemctl is-active k3s']);
  });

  it('passes the whole flow on a healthy cluster and deletes its namespace', async () => {
    const { hosts, state } = cluster();
    const report = await runSmoke([kubernetesLayer], testContext({ hosts }));
    const rs = report.layers[0]!.results;
    expect(rs.filter((r) => r.status !== 'passed')).toEqual([]);
    expect(rs.map((r) => r.id)).toEqual([
      'kubernetes.nodes',
      'kubernetes.system-pods',
      'kubernetes.secret-encryption',
      'kubernetes.deployment',
      'kubernetes.logs',
      'kubernetes.exec',
      'kubernetes.port-forward',
      'kubernetes.nodeport',
      'kubernetes.dns',
      'kubernetes.pod-to-pod',
      'kubernetes.cleanup',
    ]);
    expect(byId(rs, 'kubernetes.nodes').message).toBe('3 nodes Ready (3 control-plane, 0 agents), v1.34.3+k3s1');
    expect(byId(rs, 'kubernetes.system-pods').message).toBe('4 pods running or completed');
    expect(byId(rs, 'kubernetes.secret-encryption').message).toBe('/registry/secrets/kubi-verify-r001/kubi-verify-secret starts with k8s:enc:aescbc:');
    expect(byId(rs, 'kubernetes.nodeport').message).toBe('NodePort 31234 answered on node1, node2, node3');
    expect(byId(rs, 'kubernetes.dns').message).toBe('kubernetes.default resolves to 10.43.0.1');
    expect(byId(rs, 'kubernetes.pod-to-pod').message).toBe('3 pods on 3 nodes reached each other');
    expect(byId(rs, 'kubernetes.cleanup').message).toBe('namespace kubi-verify-r001 and everything in it deleted');
    // kubectl runs on the first active server, as root; manifests go on stdin (the secret never on a command line)
    expect(hosts[1]!.commands().filter((c) => c.startsWith('k3s kubectl'))).toEqual([]);
    const secret = state.manifests.find((m) => m.includes('"kind":"Secret"'))!;
    expect(JSON.parse(secret)).toMatchObject({ metadata: { name: 'kubi-verify-secret', namespace: 'kubi-verify-r001' }, stringData: { value: expect.stringMatching(/^kubi-verify-plaintext-/) } });
    expect(hosts[0]!.commands().some((c) => c.includes('kubi-verify-plaintext'))).toBe(false);
    const workload = JSON.parse(state.manifests.find((m) => m.includes('"kind":"Deployment"'))!) as { items: { kind: string; metadata: { namespace?: string } }[] };
    expect(workload.items.map((i) => i.kind)).toEqual(['Namespace', 'Deployment', 'Service', 'DaemonSet']);
  });

  it('names nodes that are not Ready, pods that do not run, and a secret stored in plain text', async () => {
    const { hosts } = cluster([
      { match: /^k3s kubectl get nodes -o json$/, reply: { stdout: fx('nodes-notready.json') } },
      { match: /^k3s kubectl get pods -n kube-system -o json$/, reply: { stdout: fx('kube-system-pods.json') } },
      { match: /--print-value-only$/, reply: { stdout: 'k8s\u0000\n\u000bv1\u0012\u0006Secret kubi-verify-plaintext-r003r004' } },
    ]);
    const report = await runSmoke([kubernetesLayer], testContext({ hosts, options: { timeoutMs: 0 } }));
    const rs = report.layers[0]!.results;
    expect(byId(rs, 'kubernetes.nodes').message).toBe('node3 is not Ready (Unknown: NodeStatusUnknown Kubelet stopped posting node status.)');
    expect(byId(rs, 'kubernetes.system-pods').message).toBe('not running: svclb-traefik-5d8f7-abcde Running: svclb waiting CrashLoopBackOff');
    expect(byId(rs, 'kubernetes.secret-encryption').message).toMatch(/^the secret is stored in plain text in etcd/);
    expect(report.ok).toBe(false);
    // cleanup still ran
    expect(byId(rs, 'kubernetes.cleanup').status).toBe('passed');
  });
});

describe('kubectl verdicts', () => {
  it('judgeNodes: roles, versions and unknown nodes', () => {
    const agentInv = testInventory({ hosts: [...testInventory().hosts, { name: 'node4', address: '10.77.0.14', roles: ['agent'] }] });
    expect(judgeNodes(fx('nodes-ready.json'), agentInv).problems).toEqual(['node node4 is not registered']);
    const older = testInventory({ versions: { k3s: 'v1.33.1+k3s1' } });
    expect(judgeNodes(fx('nodes-ready.json'), older).problems[0]).toBe('node1 runs v1.34.3+k3s1, the inventory says v1.33.1+k3s1');
    const two = testInventory({ hosts: testInventory().hosts.slice(0, 2) });
    expect(judgeNodes(fx('nodes-ready.json'), two).problems).toEqual(['node node3 is not in the inventory']);
    const asAgent = testInventory({ hosts: testInventory().hosts.map((h) => (h.name === 'node2' ? { ...h, roles: ['agent' as const] } : h)) });
    expect(judgeNodes(fx('nodes-ready.json'), asAgent).problems).toEqual(['node2 has the control-plane role']);
  });

  it('judgePods: finished jobs are fine, waiting containers are named', () => {
    expect(judgePods(fx('kube-system-pods.json'))).toEqual({ total: 5, bad: ['svclb-traefik-5d8f7-abcde Running: svclb waiting CrashLoopBackOff'] });
  });

  it('judgeEncryptedAtRest: the k8s:enc: envelope and no plaintext', () => {
    expect(judgeEncryptedAtRest('k8s:enc:aescbc:v1:key:\u0000xyz', 'secret-value')).toEqual({ encrypted: true, prefix: 'k8s:enc:aescbc:v1:key:.xyz' });
    expect(judgeEncryptedAtRest('k8s:enc:identity secret-value', 'secret-value').encrypted).toBe(false);
    expect(judgeEncryptedAtRest('k8s\u0000\n\u000bv1', 'x').encrypted).toBe(false);
  });

  it('the workload tolerates every taint, never pulls when the image is there, and uses busybox httpd', () => {
    const m = workloadManifest({ namespace: 'ns', marker: 'mk', image: 'docker.io/kubi/busybox:latest' }) as { items: { kind: string; spec?: { template?: { spec: { tolerations: unknown[]; containers: { imagePullPolicy: string; command: string[] }[] } } } }[] };
    for (const item of m.items.filter((i) => i.spec?.template)) {
      const pod = item.spec!.template!.spec;
      expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(pod.containers[0]!.imagePullPolicy).toBe('IfNotPresent');
      expect(pod.containers[0]!.command.join(' ')).toMatch(/httpd -f/);
    }
  });
});
