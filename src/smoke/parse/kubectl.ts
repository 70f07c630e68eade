/**
 * Pure parts of the Kubernetes layer: verdicts on `kubectl get ... -o json` output (nodes,
 * kube-system pods, a DaemonSet's pods) and the manifests of the smoke workload (JSON, applied with
 * `kubectl apply -f -`). k3s cannot run on the machine this was written on, so these are tested on
 * recorded outputs only (see test/smoke/fixtures/kubectl/README.md).
 */
import type { Inventory } from '../../inventory/schema.js';

interface KNode {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[]; nodeInfo?: { kubeletVersion?: string } };
}

interface KPod {
  metadata: { name: string; namespace?: string; ownerReferences?: { kind: string }[] };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: string;
    containerStatuses?: { name: string; ready: boolean; state?: Record<string, { reason?: string; message?: string } | undefined> }[];
  };
}

function items<T>(json: string): T[] {
  const raw = JSON.parse(json) as { items?: T[] };
  return raw.items ?? [];
}

const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

/** Problems with the cluster's nodes compared with the inventory: [] when all are Ready with the expected roles and version. */
export function judgeNodes(json: string, inventory: Inventory): { problems: string[]; summary: string } {
  const nodes = items<KNode>(json);
  const problems: string[] = [];
  const expected = inventory.hosts.filter((h) => h.roles.includes('server') || h.roles.includes('agent'));
  for (const h of expected) {
    const n = nodes.find((x) => x.metadata.name === h.name);
    if (!n) {
      problems.push(`node ${h.name} is not registered`);
      continue;
    }
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') problems.push(`${h.name} is not Ready (${ready ? `${ready.status}: ${ready.reason ?? ''} ${ready.message ?? ''}`.trim() : 'no Ready condition'})`);
    const isCp = n.metadata.labels?.[CONTROL_PLANE_LABEL] === 'true';
    const wantCp = h.roles.includes('server');
    if (isCp !== wantCp) problems.push(`${h.name} ${wantCp ? 'lacks' : 'has'} the control-plane role`);
    const version = n.status?.nodeInfo?.kubeletVersion;
    if (version !== inventory.versions.k3s) problems.push(`${h.name} runs ${version ?? 'an unknown version'}, the inventory says ${inventory.versions.k3s}`);
  }
  for (const n of nodes) {
    if (!expected.some((h) => h.name === n.metadata.name)) problems.push(`node ${n.metadata.name} is not in the inventory`);
  }
  const servers = expected.filter((h) => h.roles.includes('server')).length;
  return { problems, summary: `${expected.length} nodes Ready (${servers} control-plane, ${expected.length - servers} agents), ${inventory.versions.k3s}` };
}

/** Pods that are neither Running with all containers ready nor Succeeded (finished jobs). */
export function judgePods(json: string): { bad: string[]; total: number } {
  const pods = items<KPod>(json);
  const bad: string[] = [];
  for (const p of pods) {
    const phase = p.status?.phase ?? 'Unknown';
    if (phase === 'Succeeded') continue;
    const notReady = (p.status?.containerStatuses ?? []).filter((c) => !c.ready);
    if (phase === 'Running' && notReady.length === 0) continue;
    const why = notReady
      .map((c) => {
        const st = c.state ? Object.entries(c.state).find(([, v]) => v !== undefined) : undefined;
        return `${c.name} ${st ? `${st[0]}${st[1]?.reason ? ` ${st[1].reason}` : ''}` : 'not ready'}`;
      })
      .join(', ');
    bad.push(`${p.metadata.name} ${phase}${p.status?.reason ? ` (${p.status.reason})` : ''}${why ? `: ${why}` : ''}`);
  }
  return { bad, total: pods.length };
}

export interface PodPlace {
  name: string;
  node: string;
  ip: string;
  ready: boolean;
}

export function podPlaces(json: string): PodPlace[] {
  return items<KPod>(json).map((p) => ({
    name: p.metadata.name,
    node: p.spec?.nodeName ?? '',
    ip: p.status?.podIP ?? '',
    ready: p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready),
  }));
}

/** `kubectl get svc -o json` of one service -> its first nodePort. */
export function nodePortOf(json: string): number | null {
  const raw = JSON.parse(json) as { spec?: { ports?: { nodePort?: number }[] } };
  return raw.spec?.ports?.[0]?.nodePort ?? null;
}

export interface WorkloadNames {
  namespace: string;
  marker: string;
  image: string;
}

export const WEB = 'web';
export const NET = 'net';
export const READY_LINE = 'kubi-verify-ready';

/** Namespace, web Deployment (1 replica) + NodePort Service, and a DaemonSet serving its node name (pod-to-pod). */
export function workloadManifest(w: WorkloadNames): object {
  const labels = { 'app.kubernetes.io/managed-by': 'kubi-provision-verify' };
  const tolerations = [{ operator: 'Exists' }];
  const container = (cmd: string, env: object[] = []) => ({
    name: 'httpd',
    image: w.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['sh', '-c', cmd],
    env,
    ports: [{ containerPort: 8080 }],
    readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 },
  });
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: w.namespace, labels } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: WEB, namespace: w.namespace, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: WEB } },
          template: {
            metadata: { labels: { app: WEB } },
            spec: {
              tolerations,
              containers: [container(`echo ${READY_LINE}; mkdir -p /www; echo ${w.marker} >/www/index.html; exec httpd -f -v -p 8080 -h /www`)],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: WEB, namespace: w.namespace, labels },
        spec: { type: 'NodePort', selector: { app: WEB }, ports: [{ port: 80, targetPort: 8080 }] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: NET, namespace: w.namespace, labels },
        spec: {
          selector: { matchLabels: { app: NET } },
          template: {
            metadata: { labels: { app: NET } },
            spec: {
              tolerations,
              containers: [
                container('mkdir -p /www; echo "$NODE_NAME" >/www/index.html; exec httpd -f -p 8080 -h /www', [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                ]),
              ],
            },
          },
        },
      },
    ],
  };
}

/** A raw secret value read from etcd is encrypted when it carries the k8s:enc: envelope prefix and not the plaintext. */
export function judgeEncryptedAtRest(raw: string, plaintext: string): { encrypted: boolean; prefix: string } {
  const prefix = raw.slice(0, 32).replace(/[^\x20-\x7e]/g, '.');
  return { encrypted: raw.startsWith('k8s:enc:') && !raw.includes(plaintext), prefix };
}
