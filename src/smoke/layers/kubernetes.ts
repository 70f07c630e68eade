/**
 * Kubernetes layer (only when k3s runs on a server; otherwise ONE row "not run: k3s is not running").
 * With `k3s kubectl` on a server over SSH: nodes Ready with the expected roles and version,
 * kube-system pods running, a secret encrypted at rest (raw value read from etcd with the admin
 * certificate starts with k8s:enc:), a web Deployment running, logs / exec / port-forward work, a
 * NodePort answers on every node, a pod resolves kubernetes.default, pods reach each other across
 * nodes (a DaemonSet), and everything created (one namespace kubi-verify-<id>) is deleted again.
 *
 * k3s cannot be obtained on the machine this was written on: this layer is unit-tested with
 * recorded outputs only (test/smoke/kubernetes.test.ts), never run against a real cluster here.
 */
import { nthAddress } from '../../network/ipv4.js';
import { quoteWord } from '../../transport/quote.js';
import type { ExecResult } from '../../transport/types.js';
import { type Check, type CheckOutcome, failed, type Layer, NotRun, notRun, passed, retryCheck } from '../check.js';
import { isReachable, nodeHosts, remoteFor, type SmokeContext } from '../context.js';
import { type Evidence, evidenceFrom } from '../evidence.js';
import {
  judgeEncryptedAtRest,
  judgeNodes,
  judgePods,
  NET,
  nodePortOf,
  podPlaces,
  READY_LINE,
  WEB,
  workloadManifest,
} from '../parse/kubectl.js';
import { etcdctl } from './etcd-client.js';
import { k3sState } from './k3s-state.js';

interface K8sRun {
  /** the server kubectl runs on */
  server: string;
  namespace: string;
  marker: string;
}

const runs = new WeakMap<SmokeContext, K8sRun>();

function k8s(ctx: SmokeContext): K8sRun {
  const r = runs.get(ctx);
  if (!r) throw new NotRun('k3s is not running');
  return r;
}

async function kubectl(ctx: SmokeContext, args: readonly string[], opts: { stdin?: string; mutating?: boolean; label?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const run = k8s(ctx);
  return remoteFor(ctx, run.server).exec(['k3s', 'kubectl', ...args], {
    sudo: true,
    allowFailure: true,
    mutating: opts.mutating ?? false,
    label: opts.label ?? `verify: kubectl ${args.slice(0, 2).join(' ')}`,
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
  });
}

export const kubernetesLayer: Layer = {
  id: 'kubernetes',
  title: 'Kubernetes',
  requires: ['hosts'],
  async plan(ctx) {
    const state = await k3sState(ctx);
    if (state.active.length === 0) return { notRun: 'k3s is not running' };
    runs.set(ctx, { server: state.active[0]!, namespace: `kubi-verify-${ctx.randomId()}`, marker: `kubi-verify-${ctx.randomId()}` });
    return [
      nodesCheck,
      systemPodsCheck,
      { ...secretCheck, stage: 1 },
      { ...workloadCheck, stage: 1 },
      ...[logsCheck, execCheck, portForwardCheck, nodePortCheck, dnsCheck, podToPodCheck].map((c) => ({ ...c, stage: 2 })),
      { ...cleanupCheck, stage: 3 },
    ];
  },
  async cleanup(ctx) {
    const run = runs.get(ctx);
    if (!run) return;
    // best effort; the cleanup row already reported whether the namespace went away
    await kubectl(ctx, ['delete', 'namespace', run.namespace, '--ignore-not-found', '--wait=false'], { mutating: true, label: 'verify: delete smoke namespace' });
  },
};

const ev = (ctx: SmokeContext, r: ExecResult): Evidence => evidenceFrom(k8s(ctx).server, r, ctx.redact);

const nodesCheck: Check = {
  id: 'kubernetes.nodes',
  layer: 'kubernetes',
  title: 'nodes Ready with expected roles and version',
  async run(ctx) {
    return retryCheck(ctx, { what: 'every node to be Ready' }, async () => {
      const r = await kubectl(ctx, ['get', 'nodes', '-o', 'json']);
      if (r.exitCode !== 0) return failed('kubectl get nodes failed', [ev(ctx, r)]);
      const v = judgeNodes(r.stdout, ctx.inventory);
      if (v.problems.length > 0) {
        const wide = await kubectl(ctx, ['get', 'nodes', '-o', 'wide']);
        return failed(v.problems.join('; '), [ev(ctx, wide)]);
      }
      return passed(v.summary);
    });
  },
};

const systemPodsCheck: Check = {
  id: 'kubernetes.system-pods',
  layer: 'kubernetes',
  title: 'kube-system pods running',
  async run(ctx) {
    return retryCheck(ctx, { what: 'kube-system pods to run' }, async () => {
      const r = await kubectl(ctx, ['get', 'pods', '-n', 'kube-system', '-o', 'json']);
      if (r.exitCode !== 0) return failed('kubectl get pods failed', [ev(ctx, r)]);
      const v = judgePods(r.stdout);
      if (v.bad.length > 0) return failed(`not running: ${v.bad.join('; ')}`, [ev(ctx, await kubectl(ctx, ['get', 'pods', '-n', 'kube-system', '-o', 'wide']))]);
      return passed(`${v.total} pods running or completed`);
    });
  },
};

/** The smoke namespace (created once per run). */
async function ensureNamespace(ctx: SmokeContext): Promise<string> {
  const run = k8s(ctx);
  return ctx.memo('k8s-namespace', async () => {
    const manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: run.namespace, labels: { 'app.kubernetes.io/managed-by': 'kubi-provision-verify' } } };
    const r = await kubectl(ctx, ['apply', '-f', '-'], { stdin: JSON.stringify(manifest), mutating: true, label: 'verify: create smoke namespace' });
    if (r.exitCode !== 0) throw new Error(`could not create namespace ${run.namespace}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    return run.namespace;
  });
}

const secretCheck: Check = {
  id: 'kubernetes.secret-encryption',
  layer: 'kubernetes',
  title: 'secrets are encrypted at rest',
  async run(ctx) {
    if (!ctx.inventory.k3s.secretsEncryption) return notRun('secrets encryption is off in the inventory');
    const ns = await ensureNamespace(ctx);
    const name = 'kubi-verify-secret';
    const plaintext = `kubi-verify-plaintext-${ctx.randomId()}${ctx.randomId()}`;
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { value: plaintext } };
    const created = await kubectl(ctx, ['apply', '-f', '-'], { stdin: JSON.stringify(secret), mutating: true, label: 'verify: create test secret' });
    if (created.exitCode !== 0) return failed('could not create the test secret', [ev(ctx, created)]);
    const key = `/registry/secrets/${ns}/${name}`;
    return retryCheck(ctx, { what: 'the test secret in etcd' }, async () => {
      const { host, result } = await etcdctl(ctx, ['get', key, '--print-value-only'], { label: 'verify: raw secret from etcd' });
      const v = judgeEncryptedAtRest(result.stdout, plaintext);
      const e: Evidence = { host, command: `etcdctl get ${key} --print-value-only | head -c 32`, exitCode: result.exitCode, output: v.prefix || result.stderr.trim() };
      if (result.exitCode !== 0 || result.stdout === '') return failed(`the secret is not in etcd under ${key}`, [e]);
      if (!v.encrypted) return failed(`the secret is stored in plain text in etcd (${key} starts with "${v.prefix.slice(0, 12)}")`, [e]);
      return passed(`${key} starts with ${v.prefix.split(':').slice(0, 3).join(':')}:`);
    });
  },
};

/** Apply the workload and wait until the web Deployment is available (memoized: later checks need it). */
async function ensureWorkload(ctx: SmokeContext): Promise<CheckOutcome> {
  return ctx.memo('k8s-workload', async () => {
    const run = k8s(ctx);
    await ensureNamespace(ctx);
    const manifest = workloadManifest({ namespace: run.namespace, marker: run.marker, image: ctx.options.smokeImage });
    const applied = await kubectl(ctx, ['apply', '-f', '-'], { stdin: JSON.stringify(manifest), mutating: true, label: 'verify: apply smoke workload' });
    if (applied.exitCode !== 0) return failed('kubectl apply of the smoke workload failed', [ev(ctx, applied)]);
    return retryCheck(ctx, { what: 'the web deployment to be available' }, async () => {
      const r = await kubectl(ctx, ['-n', run.namespace, 'get', 'pods', '-l', `app=${WEB}`, '-o', 'json']);
      const pods = r.exitCode === 0 ? podPlaces(r.stdout) : [];
      if (pods.some((p) => p.ready)) return passed(`deployment ${WEB} runs ${ctx.options.smokeImage} on ${pods.find((p) => p.ready)!.node}`);
      const describe = await kubectl(ctx, ['-n', run.namespace, 'get', 'pods,events', '-o', 'wide']);
      return failed(`deployment ${WEB} is not available`, [ev(ctx, describe)]);
    });
  });
}

async function requireWorkload(ctx: SmokeContext): Promise<K8sRun> {
  const o = await ensureWorkload(ctx);
  if (o.status !== 'passed') throw new NotRun('the web deployment is not running');
  return k8s(ctx);
}

const workloadCheck: Check = {
  id: 'kubernetes.deployment',
  layer: 'kubernetes',
  title: 'a web deployment runs',
  run: (ctx) => ensureWorkload(ctx),
};

const logsCheck: Check = {
  id: 'kubernetes.logs',
  layer: 'kubernetes',
  title: 'kubectl logs works',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    return retryCheck(ctx, { what: 'pod logs' }, async () => {
      const r = await kubectl(ctx, ['-n', run.namespace, 'logs', `deploy/${WEB}`]);
      if (r.exitCode === 0 && r.stdout.includes(READY_LINE)) return passed(`logs of deploy/${WEB} show "${READY_LINE}"`);
      return failed(`logs of deploy/${WEB} lack "${READY_LINE}"`, [ev(ctx, r)]);
    });
  },
};

const execCheck: Check = {
  id: 'kubernetes.exec',
  layer: 'kubernetes',
  title: 'kubectl exec works',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    return retryCheck(ctx, { what: 'kubectl exec' }, async () => {
      const r = await kubectl(ctx, ['-n', run.namespace, 'exec', `deploy/${WEB}`, '--', 'cat', '/www/index.html']);
      if (r.exitCode === 0 && r.stdout.trim() === run.marker) return passed('read the served file inside the pod');
      return failed('kubectl exec did not return the served file', [ev(ctx, r)]);
    });
  },
};

const portForwardCheck: Check = {
  id: 'kubernetes.port-forward',
  layer: 'kubernetes',
  title: 'kubectl port-forward works',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    const port = 20000 + Math.floor(Math.random() * 10000);
    const script = [
      `k3s kubectl -n ${quoteWord(run.namespace)} port-forward deploy/${WEB} ${port}:8080 </dev/null >/tmp/kubi-verify-pf.$$ 2>&1 & pf=$!`,
      'out=""',
      `for i in $(seq 1 30); do out=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' 2>/dev/null) && [ -n "$out" ] && break; sleep 0.5; done`,
      'kill $pf 2>/dev/null; wait $pf 2>/dev/null',
      'printf "%s\\n" "$out"; echo "@@port-forward-log"; cat /tmp/kubi-verify-pf.$$; rm -f /tmp/kubi-verify-pf.$$',
    ].join('\n');
    return retryCheck(ctx, { what: 'kubectl port-forward' }, async () => {
      const r = await remoteFor(ctx, run.server).script(script, { sudo: true, allowFailure: true, mutating: false, label: 'verify: kubectl port-forward' });
      if (r.stdout.includes(run.marker)) return passed(`127.0.0.1:${port} on ${run.server} reached the pod`);
      return failed(`port-forward on ${run.server} did not reach the pod`, [evidenceFrom(run.server, r, ctx.redact, { label: `kubectl port-forward deploy/${WEB} ${port}:8080 + GET / (script)` })]);
    });
  },
};

const nodePortCheck: Check = {
  id: 'kubernetes.nodeport',
  layer: 'kubernetes',
  title: 'a NodePort service answers on every node',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    const svc = await kubectl(ctx, ['-n', run.namespace, 'get', 'service', WEB, '-o', 'json']);
    const port = svc.exitCode === 0 ? nodePortOf(svc.stdout) : null;
    if (!port) return failed('the service has no node port', [ev(ctx, svc)]);
    const nodes = nodeHosts(ctx).filter((h) => isReachable(ctx, h.name));
    return retryCheck(ctx, { what: `NodePort ${port} on every node` }, async () => {
      const bad: string[] = [];
      const evidence: Evidence[] = [];
      await Promise.all(
        nodes.map(async (h) => {
          const script = `timeout 10 bash -c 'exec 3<>/dev/tcp/${h.address}/${port}; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' 2>&1; echo "@@exit=$?"`;
          const r = await remoteFor(ctx, h.name).script(script, { sudo: false, allowFailure: true, mutating: false, label: 'verify: NodePort' });
          if (!r.stdout.includes(run.marker)) {
            bad.push(h.name);
            evidence.push(evidenceFrom(h.name, r, ctx.redact, { label: `GET http://${h.address}:${port}/` }));
          }
        }),
      );
      if (bad.length > 0) return failed(`NodePort ${port} does not answer on ${bad.sort().join(', ')}`, evidence);
      return passed(`NodePort ${port} answered on ${nodes.map((n) => n.name).join(', ')}`);
    });
  },
};

const dnsCheck: Check = {
  id: 'kubernetes.dns',
  layer: 'kubernetes',
  title: 'a pod resolves kubernetes.default',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    const want = nthAddress(ctx.inventory.network.serviceCidr, 1);
    return retryCheck(ctx, { what: 'cluster DNS' }, async () => {
      const r = await kubectl(ctx, ['-n', run.namespace, 'exec', `deploy/${WEB}`, '--', 'nslookup', 'kubernetes.default.svc.cluster.local']);
      if (r.exitCode === 0 && new RegExp(`Address:?\\s+${want.replace(/\./g, '\\.')}\\b`).test(r.stdout)) return passed(`kubernetes.default resolves to ${want}`);
      return failed(`kubernetes.default did not resolve to ${want}`, [ev(ctx, r)]);
    });
  },
};

const podToPodCheck: Check = {
  id: 'kubernetes.pod-to-pod',
  layer: 'kubernetes',
  title: 'pods reach each other across nodes',
  async run(ctx) {
    const run = await requireWorkload(ctx);
    const expectedNodes = nodeHosts(ctx).length;
    return retryCheck(ctx, { what: 'pods to reach each other across nodes' }, async () => {
      const r = await kubectl(ctx, ['-n', run.namespace, 'get', 'pods', '-l', `app=${NET}`, '-o', 'json']);
      const pods = r.exitCode === 0 ? podPlaces(r.stdout).filter((p) => p.ready && p.ip) : [];
      if (pods.length < Math.min(2, expectedNodes) || new Set(pods.map((p) => p.node)).size < Math.min(2, expectedNodes)) {
        return failed(`only ${pods.length} ready ${NET} pods (on ${[...new Set(pods.map((p) => p.node))].join(', ') || 'no node'})`, [ev(ctx, r)]);
      }
      const bad: string[] = [];
      const evidence: Evidence[] = [];
      for (const from of pods) {
        for (const to of pods.filter((p) => p.node !== from.node)) {
          const w = await kubectl(ctx, ['-n', run.namespace, 'exec', from.name, '--', 'timeout', '5', 'wget', '-q', '-O', '-', `http://${to.ip}:8080/`]);
          if (w.exitCode === 0 && w.stdout.trim() === to.node) continue;
          bad.push(`${from.node} -> ${to.node}`);
          evidence.push(ev(ctx, w));
        }
      }
      if (bad.length > 0) return failed(`no answer: ${bad.join(', ')}`, evidence);
      const missing = expectedNodes - new Set(pods.map((p) => p.node)).size;
      if (missing > 0) return failed(`${missing} node(s) run no ${NET} pod`, [ev(ctx, r)]);
      return passed(`${pods.length} pods on ${new Set(pods.map((p) => p.node)).size} nodes reached each other`);
    });
  },
};

const cleanupCheck: Check = {
  id: 'kubernetes.cleanup',
  layer: 'kubernetes',
  title: 'everything created is deleted',
  async run(ctx) {
    const run = k8s(ctx);
    const del = await kubectl(ctx, ['delete', 'namespace', run.namespace, '--ignore-not-found', '--wait=false'], { mutating: true, label: 'verify: delete smoke namespace' });
    if (del.exitCode !== 0) return failed(`could not delete namespace ${run.namespace}`, [ev(ctx, del)]);
    return retryCheck(ctx, { what: `namespace ${run.namespace} to be gone`, timeoutMs: Math.max(ctx.options.timeoutMs, 120_000) }, async () => {
      const r = await kubectl(ctx, ['get', 'namespace', run.namespace, '--ignore-not-found', '-o', 'name']);
      if (r.exitCode === 0 && r.stdout.trim() === '') return passed(`namespace ${run.namespace} and everything in it deleted`);
      return failed(`namespace ${run.namespace} is still there`, [ev(ctx, r)]);
    });
  },
};
