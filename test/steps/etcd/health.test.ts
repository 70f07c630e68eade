import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isKubiError } from '../../../src/errors.js';
import { evaluateCluster, parseClusterProbe, waitForEtcdCluster, type ClusterProbe } from '../../../src/steps/etcd/health.js';
import { FakeNode } from '../host/fake-node.js';
import { clusterOf, fakeClock, stepCtx, threeNodes } from '../host/context.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => readFileSync(path.join(dir, name), 'utf8').split('\n').slice(1).join('\n');
/** the captured 3.4 outputs, with the lab's https client URLs instead of the capture's loopback ones */
const asLab = (text: string) => text.replace(/http:\/\/127\.0\.0\.1:2(\d)3(79|80)/g, (_m, i: string, p: string) => `https://10.77.0.1${i}:23${p}`);

function probeOutput(o: { active?: string; sub?: string; restarts?: number; health?: string; members?: string; stderr?: string[]; journal?: string }): string {
  return [
    '',
    '@@kubi:unit@@',
    `ActiveState=${o.active ?? 'active'}`,
    `SubState=${o.sub ?? 'running'}`,
    `NRestarts=${o.restarts ?? 0}`,
    'MainPID=4242',
    '',
    '@@kubi:health@@',
    o.health ?? asLab(fixture('etcdctl-3.4-health-healthy.txt')).trim(),
    ...(o.stderr ?? []).map((l) => `stderr: ${l}`),
    '',
    '@@kubi:members@@',
    o.members ?? asLab(fixture('etcdctl-3.4-member-list.txt')).trim(),
    '',
    '@@kubi:journal@@',
    o.journal ?? '',
    '',
  ].join('\n');
}

const inv = threeNodes();
const host = inv.hosts[0]!;
const verdict = (p: ClusterProbe) => evaluateCluster(p, inv, host, 0);

describe('evaluateCluster', () => {
  it('ready: unit active, every member healthy, member list = inventory', () => {
    const p = parseClusterProbe(probeOutput({}));
    expect(p.unit).toEqual({ activeState: 'active', subState: 'running', nRestarts: 0, mainPid: 4242 });
    expect(verdict(p)).toEqual({ state: 'ready' });
  });

  it('waiting: a member unhealthy (names it and the error)', () => {
    const p = parseClusterProbe(probeOutput({ health: asLab(fixture('etcdctl-3.4-health-one-down.txt')).trim(), stderr: ['Error: unhealthy cluster'] }));
    expect(verdict(p)).toEqual({ state: 'waiting', waitingFor: 'every member to be healthy: node3 unhealthy (context deadline exceeded)' });
    expect(p.stderr).toBe('Error: unhealthy cluster');
  });

  it('waiting: the unit is still starting (a new member waits for quorum)', () => {
    expect(verdict(parseClusterProbe(probeOutput({ active: 'activating', sub: 'start', health: '', members: '' })))).toEqual({
      state: 'waiting',
      waitingFor: 'etcd.service on node1 to become active (now activating/start)',
    });
  });

  it('waiting: member list differs from the inventory', () => {
    const members = asLab(fixture('etcdctl-3.4-member-list.txt')).replace('"name":"node2"', '"name":"stale"').trim();
    const v = verdict(parseClusterProbe(probeOutput({ members })));
    expect(v).toEqual({ state: 'waiting', waitingFor: 'the member list to match the inventory: https://10.77.0.12:2380 belongs to member stale, expected node2' });
  });

  it('failed: the unit failed, or restarted since the wait began and is not active', () => {
    expect(verdict(parseClusterProbe(probeOutput({ active: 'failed', sub: 'failed' })))).toEqual({ state: 'failed', reason: 'etcd.service failed (failed)' });
    expect(verdict(parseClusterProbe(probeOutput({ active: 'activating', sub: 'auto-restart', restarts: 1 })))).toEqual({
      state: 'failed',
      reason: 'etcd keeps exiting (restarted 1 time(s), now activating/auto-restart)',
    });
    expect(verdict(parseClusterProbe(probeOutput({ active: 'activating', sub: 'start', restarts: 2 })))).toEqual({
      state: 'failed',
      reason: 'etcd keeps exiting (restarted 2 time(s), now activating/start)',
    });
  });

  it('waiting: one scheduled restart that is now starting (the member was fixed between two runs)', () => {
    expect(verdict(parseClusterProbe(probeOutput({ active: 'activating', sub: 'start', restarts: 1, health: '', members: '' })))).toEqual({
      state: 'waiting',
      waitingFor: 'etcd.service on node1 to become active (now activating/start)',
    });
  });
});

describe('waitForEtcdCluster (scripted fake host, fake clock)', () => {
  it('polls until ready', async () => {
    const answers = [probeOutput({ active: 'activating', sub: 'start', health: '', members: '' }), probeOutput({ health: asLab(fixture('etcdctl-3.4-health-one-down.txt')) }), probeOutput({})];
    const node = new FakeNode('node1').onScript('probe etcd cluster health', () => answers.shift() ?? probeOutput({}));
    const clock = fakeClock();
    const messages: string[] = [];
    const ctx = stepCtx(clusterOf(inv, { clock }), 'node1', node, messages);
    await waitForEtcdCluster(ctx, { purpose: 'the test', intervalMs: 1000 });
    expect(node.calls).toHaveLength(3);
    expect(clock.slept).toBe(2000);
    expect(messages).toEqual([
      'waiting for etcd.service on node1 to become active (now activating/start)',
      'waiting for every member to be healthy: node3 unhealthy (context deadline exceeded)',
    ]);
  });

  it('a crash loop fails at once with the journal, naming the host', async () => {
    const answers = [probeOutput({ active: 'activating', sub: 'start', restarts: 3 }), probeOutput({ active: 'activating', sub: 'auto-restart', restarts: 4, journal: 'open /etc/etcd/pki/server.key: permission denied\netcd exited' })];
    const node = new FakeNode('node1').onScript('probe etcd cluster health', () => answers.shift()!);
    const ctx = stepCtx(clusterOf(inv), 'node1', node);
    const err = await waitForEtcdCluster(ctx, { purpose: 'the cluster after starting etcd on node1' }).catch((e: unknown) => e);
    expect(isKubiError(err)).toBe(true);
    if (!isKubiError(err)) return;
    expect(err.code).toBe('etcd-failed');
    expect(err.host).toBe('node1');
    expect(err.message).toBe(
      'etcd keeps exiting (restarted 1 time(s), now activating/auto-restart) while waiting for the cluster after starting etcd on node1; journal: open /etc/etcd/pki/server.key: permission denied etcd exited',
    );
  });

  it('times out saying what it waited for, where, with the last output', async () => {
    const down = probeOutput({ health: asLab(fixture('etcdctl-3.4-health-one-down.txt')), stderr: ['Error: unhealthy cluster'] });
    const node = new FakeNode('node1').onScript('probe etcd cluster health', () => down);
    const clock = fakeClock();
    const ctx = stepCtx(clusterOf(inv, { clock }), 'node1', node);
    const err = await waitForEtcdCluster(ctx, { purpose: 'the test', timeoutMs: 10_000, intervalMs: 1000 }).catch((e: unknown) => e);
    expect(isKubiError(err) && err.code).toBe('etcd-wait-timeout');
    if (!isKubiError(err)) return;
    expect(err.host).toBe('node1');
    expect(err.message).toBe(
      'timed out after 10 s waiting for every member to be healthy: node3 unhealthy (context deadline exceeded) (the test); last output: Error: unhealthy cluster',
    );
    expect(clock.slept).toBe(10_000);
    expect(node.calls).toHaveLength(11);
  });
});
