/**
 * containerd + CNI layer over scripted hosts (TEST DOUBLES). The real behaviour is proven on lab
 * nodes in verify-lab.hosts.test.ts; here: pod subnet verdicts, image import from the local
 * archive, cross-node pairs, cleanup of every container created, and the not-run cases.
 */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/smoke/check.js';
import { containerdLayer } from '../../src/smoke/layers/containerd.js';
import { runSmoke } from '../../src/smoke/runner.js';
import { testContext, testInventory } from './harness/context.js';
import { type Rule, ScriptedHost } from './harness/scripted-host.js';

const subnets = { node1: '10.42.0.0/24', node2: '10.42.1.0/24', node3: '10.42.2.0/24' };

/** A node whose containers get addresses in `subnet` (or `wrongIp`), serving markers the other nodes can fetch. */
function node(i: number, served: Map<string, string>, opts: { image?: 'present' | 'missing'; wrongIp?: string; unreachableFrom?: string[] } = {}, extra: Rule[] = []): ScriptedHost {
  const n = i - 1;
  let imported = false;
  let containers = 0;
  return new ScriptedHost(`node${i}`, `10.77.0.1${i}`, [
    ...extra,
    {
      match: /images import/,
      kind: 'script',
      reply: () => {
        imported = true;
        return { stdout: '@@import-exit=0\n@@image=present\n' };
      },
    },
    { match: /images ls -q/, kind: 'script', reply: (t) => (t.includes(' version ') ? { stdout: `@@ctr-exit=0\n@@image=${opts.image === 'missing' && !imported ? 'missing' : 'present'}\n` } : { stdout: '' }) },
    { match: /grep '\^kubi-verify-'/, kind: 'script', reply: { stdout: '' } },
    {
      match: /run --cni --rm/,
      kind: 'script',
      reply: () => ({ stdout: `2: eth0    inet ${opts.wrongIp ?? `10.42.${n}.${++containers + 1}`}/24 brd 10.42.${n}.255 scope global eth0\n@@run-exit=0\n` }),
    },
    {
      match: /run --cni -d/,
      kind: 'script',
      reply: (t) => {
        const ip = `10.42.${n}.100`;
        served.set(ip, t.match(/echo (kubi-verify-node\d-\w+) >\/www/)![1]!);
        return { stdout: `@@run-exit=0\n2: eth0    inet ${ip}/24 brd 10.42.${n}.255 scope global eth0\n@@ip-exit=0\n` };
      },
    },
    {
      match: /timeout 5 wget/,
      kind: 'script',
      reply: (t) => {
        const ip = t.match(/http:\/\/([\d.]+):8080/)![1]!;
        if (opts.unreachableFrom?.includes(ip)) return { stdout: '@@wget-exit=143\n' };
        return { stdout: `${served.get(ip)}\n@@wget-exit=0\n` };
      },
    },
    { match: /tasks kill -s KILL/, kind: 'script', reply: { stdout: '' } },
    { match: /^ip -4 route show$/, reply: { stdout: `default via 10.77.0.1 dev eth0\n10.42.${n}.0/24 dev cni0 proto kernel scope link\n` } },
  ]);
}

const byId = (rs: CheckResult[], id: string, host?: string) => rs.find((r) => r.id === id && (host === undefined || r.host === host))!;

describe('containerd layer', () => {
  it('passes: addresses in each node pod subnet, 6 pairs answer, every container removed', async () => {
    const served = new Map<string, string>();
    const hosts = [1, 2, 3].map((i) => node(i, served));
    const report = await runSmoke([containerdLayer], testContext({ hosts, podSubnets: subnets }));
    const rs = report.layers[0]!.results;
    expect(rs.map((r) => [r.id, r.host ?? '-', r.status])).toEqual([
      ['containerd.container', 'node1', 'passed'],
      ['containerd.container', 'node2', 'passed'],
      ['containerd.container', 'node3', 'passed'],
      ['containerd.pod-to-pod', '-', 'passed'],
    ]);
    expect(byId(rs, 'containerd.container', 'node2').message).toBe("got 10.42.1.2 in the node's pod subnet 10.42.1.0/24; image already present; removed");
    expect(byId(rs, 'containerd.pod-to-pod').message).toBe('6 pairs answered (node1 10.42.0.100, node2 10.42.1.100, node3 10.42.2.100)');
    // the serving container of each node was removed by name
    for (const h of hosts) {
      const started = h.commands('script').filter((c) => c.includes('run --cni -d')).map((c) => c.match(/(kubi-verify-net-\w+)/)![1]!);
      expect(started).toHaveLength(1);
      expect(h.commands('script').some((c) => c.includes('tasks kill -s KILL') && c.includes(started[0]!))).toBe(true);
    }
  });

  it('imports the smoke image from the local archive where it is missing', async () => {
    const served = new Map<string, string>();
    const archive = Buffer.from('fake oci archive');
    const hosts = [node(1, served, { image: 'missing' }), node(2, served), node(3, served)];
    const report = await runSmoke([containerdLayer], testContext({ hosts, podSubnets: subnets, options: { imageArchive: '/art/images/busybox-oci.tar' }, files: { '/art/images/busybox-oci.tar': archive } }));
    expect(byId(report.layers[0]!.results, 'containerd.container', 'node1').message).toMatch(/image imported from \/art\/images\/busybox-oci\.tar/);
    expect(hosts[0]!.files.get('/var/tmp/kubi-verify-image.tar')).toEqual(archive);
    expect(hosts[1]!.calls.some((c) => c.kind === 'putFile')).toBe(false);
  });

  it('fails a container outside the node pod subnet, naming the node', async () => {
    const served = new Map<string, string>();
    const hosts = [node(1, served), node(2, served, { wrongIp: '10.42.7.9' }), node(3, served)];
    const report = await runSmoke([containerdLayer], testContext({ hosts, podSubnets: subnets, options: { timeoutMs: 0 } }));
    const r = byId(report.layers[0]!.results, 'containerd.container', 'node2');
    expect(r).toMatchObject({ status: 'failed', message: "node2: the container got 10.42.7.9, outside the node's pod subnet 10.42.1.0/24" });
    expect(r.evidence![0]).toMatchObject({ host: 'node2', exitCode: 0, output: expect.stringContaining('inet 10.42.7.9/24') });
  });

  it('fails pod-to-pod naming the pair that gets no answer, with the routes of the source node', async () => {
    const served = new Map<string, string>();
    const hosts = [node(1, served, { unreachableFrom: ['10.42.2.100'] }), node(2, served), node(3, served)];
    const report = await runSmoke([containerdLayer], testContext({ hosts, podSubnets: subnets, options: { timeoutMs: 0 } }));
    const r = byId(report.layers[0]!.results, 'containerd.pod-to-pod');
    expect(r.status).toBe('failed');
    expect(r.message).toBe('no answer: node1 -> node3 (10.42.0.100 -> 10.42.2.100:8080, timed out)');
    expect(r.evidence!.map((e) => [e.host, e.command.startsWith('ip -4 route') ? 'routes' : 'wget', e.exitCode])).toEqual([
      ['node1', 'wget', 143],
      ['node1', 'routes', 0],
    ]);
  });

  it('reports a node whose containerd does not answer, in its own row and in pod-to-pod', async () => {
    const served = new Map<string, string>();
    const down: Rule = { match: /images ls -q/, kind: 'script', reply: { stdout: '@@ctr-exit=1\nctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded\n@@containerd=inactive\n' } };
    const hosts = [node(1, served), node(2, served, {}, [down]), node(3, served)];
    const report = await runSmoke([containerdLayer], testContext({ hosts, podSubnets: subnets }));
    const rs = report.layers[0]!.results;
    expect(byId(rs, 'containerd.container', 'node2')).toMatchObject({ status: 'failed', message: 'containerd does not answer on node2 (service inactive)' });
    expect(byId(rs, 'containerd.container', 'node2').evidence![0]).toMatchObject({ exitCode: 1, output: expect.not.stringContaining('@@') });
    expect(byId(rs, 'containerd.pod-to-pod')).toMatchObject({ status: 'failed', message: 'containerd does not answer on node2 (service inactive) (the others reach each other)' });
    expect(report.ok).toBe(false);
  });

  it('does not apply without nodes or with flannel', async () => {
    const etcdOnly = testInventory({ endpoint: { mode: 'none' }, hosts: [{ name: 'e1', address: '10.0.0.1', roles: ['etcd'] }] });
    expect((await runSmoke([containerdLayer], testContext({ inventory: etcdOnly, hosts: [] }))).layers[0]!.results[0]!.message).toBe('no server or agent hosts in the inventory');
    const flannel = testInventory({ network: { cni: 'flannel' } });
    expect((await runSmoke([containerdLayer], testContext({ inventory: flannel, hosts: [] }))).layers[0]!.results[0]!.message).toMatch(/^cni mode flannel/);
  });
});
