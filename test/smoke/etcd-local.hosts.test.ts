/**
 * The etcd layer for real: three real OpenSSH servers (test/harness/sshd.ts) and three real etcd
 * 3.4.23 members with client and peer TLS on the same loopback addresses, reached through the
 * tool's own SSH transport. Nothing is scripted: etcdctl, openssl s_client and the certificates
 * run and are read on the "hosts". Then one member is stopped and verify must report the cluster
 * degraded but with quorum, naming the member.
 */
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/inventory/schema.js';
import { connectForVerify, type VerifyConnections } from '../../src/smoke/connect.js';
import { createSmokeContext, DEFAULT_ETCD_PATHS } from '../../src/smoke/context.js';
import { etcdLayer } from '../../src/smoke/layers/etcd.js';
import { hostsLayer } from '../../src/smoke/layers/hosts.js';
import { renderText } from '../../src/smoke/report.js';
import { runSmoke, type SmokeReport } from '../../src/smoke/runner.js';
import { gatherFacts } from '../../src/facts/gather.js';
import { SshdLab, type SshdServer } from '../harness/sshd.js';
import { LocalEtcdCluster } from './harness/local-etcd.js';

let lab: SshdLab;
let servers: SshdServer[];
let etcd: LocalEtcdCluster;
let conns: VerifyConnections;
let inventory: Inventory;

beforeAll(async () => {
  lab = await SshdLab.create();
  const base = SshdLab.loopbackAddress().split('.').slice(0, 3).join('.');
  const addresses = [11, 12, 13].map((i) => `${base}.${i}`);
  servers = await Promise.all(addresses.map((address, i) => lab.startSshd({ name: `node${i + 1}`, address })));
  etcd = await LocalEtcdCluster.create(addresses);
  await etcd.start();
  await etcd.waitHealthy();
  inventory = Inventory.parse({
    cluster: { name: 'smoke-local' },
    endpoint: { mode: 'none' },
    hosts: addresses.map((address, i) => ({ name: `node${i + 1}`, address, roles: ['etcd'] })),
  });
  const home = path.join(lab.dir, 'home');
  await fs.mkdir(home, { mode: 0o700 });
  conns = await connectForVerify(
    servers.map((s) => ({ name: s.name, address: s.address, port: s.port, user: 'root', privateKeyPath: lab.keys.plain })),
    { stateDir: path.join(lab.dir, 'state'), env: { HOME: home, USER: 'root' } },
  );
});

afterAll(async () => {
  conns?.closeAll();
  await etcd?.stopAll();
  await etcd?.remove();
  await lab?.cleanup();
});

async function verifyEtcd(timeoutMs: number): Promise<SmokeReport> {
  const ctx = createSmokeContext({
    inventory,
    remotes: conns.remotes,
    unreachable: conns.unreachable,
    gatherFacts,
    options: { timeoutMs, intervalMs: 1_000, etcd: { ...DEFAULT_ETCD_PATHS, ...etcd.paths } },
  });
  return runSmoke([hostsLayer, etcdLayer], ctx);
}

const row = (r: SmokeReport, id: string, host?: string) => r.layers.flatMap((l) => l.results).find((x) => x.id === id && (host === undefined || x.host === host))!;

describe('etcd layer against real etcd over real ssh', () => {
  it('passes every etcd check on a healthy cluster and leaves no key behind', async () => {
    expect(conns.unreachable.size).toBe(0);
    const report = await verifyEtcd(30_000);
    const etcdRows = report.layers.find((l) => l.id === 'etcd')!.results;
    const text = renderText(report, { color: false });
    expect(etcdRows.filter((r) => r.status !== 'passed'), text).toEqual([]);
    expect(etcdRows).toHaveLength(11);
    expect(row(report, 'etcd.members').message).toBe('node1, node2, node3');
    expect(row(report, 'etcd.client-cert-required', 'node2').message).toMatch(/^handshake refused without a client certificate \(alert (bad certificate|certificate required)\)$/);
    expect(row(report, 'etcd.cert-expiry', 'node1').message).toMatch(/^\d+ certificates; the first to expire is \S+\.crt in 36[45] days$/);
    expect(row(report, 'hosts.ssh', 'node1').status).toBe('passed');
    expect(row(report, 'hosts.clock-skew').status).toBe('passed');
    const left = await etcd.etcdctl(['get', '/kubi-verify/', '--prefix', '--keys-only']);
    expect(left.code).toBe(0);
    expect(left.stdout.trim()).toBe('');
  });

  it('with a member stopped: degraded but with quorum, naming the member; quorum passes; exit would be non-zero', async () => {
    await etcd.stop('node2');
    const report = await verifyEtcd(4_000);
    const health = row(report, 'etcd.health');
    expect(health.status).toBe('failed');
    expect(health.message).toMatch(/^degraded but with quorum: member node2 unhealthy, 2 of 3 healthy — node2 \(https:\/\/[\d.]+:2379\): /);
    expect(health.evidence![0]!.command).toMatch(/etcdctl .* endpoint health -w json$/);
    expect(row(report, 'etcd.quorum')).toMatchObject({ status: 'passed', message: '2 of 3 members healthy, quorum needs 2 (0 more may fail)' });
    expect(row(report, 'etcd.leader').status).toBe('passed');
    expect(row(report, 'etcd.round-trip').status).toBe('passed');
    expect(row(report, 'etcd.client-cert-required', 'node2')).toMatchObject({ status: 'not-run', message: 'member node2 is unhealthy' });
    expect(report.ok).toBe(false);
    const text = renderText(report, { color: false });
    expect(text).toMatch(/every member healthy\s+-\s+FAILED\s+\S+ s\s+degraded but with quorum: member node2/);
    expect(text).toMatch(/evidence: node1 \$ ETCDCTL_API=3 \S+\/etcdctl --cacert \S+ --cert \S+ --key \S+ --endpoints \S+ --dial-timeout 3s --command-timeout 5s endpoint health -w json \(exit 1\)/);
    console.log(text);
  });
});

