/**
 * Plan logic of the etcd steps on a scripted fake host (a TEST DOUBLE): fresh host, converged
 * host, changed configuration. The PKI is the real store in a temp state directory and the
 * binaries come from a real offline directory (a tiny etcd release tarball built here).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change, ClusterContext } from '../../../src/engine/types.js';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { pkiEtcd } from '../../../src/steps/pki/etcd.js';
import { artifactsEtcd } from '../../../src/steps/artifacts/etcd.js';
import { etcdInstall } from '../../../src/steps/etcd/install.js';
import { etcdCertificatesStep } from '../../../src/steps/etcd/certificates.js';
import { etcdConfigure } from '../../../src/steps/etcd/configure.js';
import { WAIT_FOR_START_TITLE, etcdStart, planStart } from '../../../src/steps/etcd/start.js';
import { HAND_OVER_TITLE, etcdRoll, handOverLeadership, planRoll } from '../../../src/steps/etcd/roll.js';
import { ETCD_FINGERPRINT_PATH, etcdDesired } from '../../../src/steps/etcd/desired.js';
import { applyChanges } from '../../../src/engine/apply.js';
import { FakeNode } from '../host/fake-node.js';
import { clusterOf, stepCtx } from '../host/context.js';

const VERSION = 'v3.4.23';
let work: string;
let offline: string;

/** A real offline directory: <dir>/etcd/<v>/etcd-<v>-linux-amd64.tar.gz + SHA256SUMS. */
function buildOfflineDir(root: string): string {
  const dir = path.join(root, 'offline');
  const rel = path.join('etcd', VERSION);
  const top = `etcd-${VERSION}-linux-amd64`;
  const stage = path.join(root, 'stage', top);
  mkdirSync(stage, { recursive: true });
  writeFileSync(path.join(stage, 'etcd'), '#!/bin/sh\necho fake etcd\n', { mode: 0o755 });
  writeFileSync(path.join(stage, 'etcdctl'), '#!/bin/sh\necho fake etcdctl\n', { mode: 0o755 });
  mkdirSync(path.join(dir, rel), { recursive: true });
  const tarball = path.join(dir, rel, `${top}.tar.gz`);
  execFileSync('tar', ['-czf', tarball, '-C', path.join(root, 'stage'), top]);
  const sha = createHash('sha256').update(execFileSync('cat', [tarball])).digest('hex');
  writeFileSync(path.join(dir, rel, 'SHA256SUMS'), `${sha}  ${top}.tar.gz\n`);
  return dir;
}

function inventory(extra: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 'steps' },
    endpoint: { mode: 'none' },
    versions: { etcd: VERSION },
    artifacts: { source: 'offline', dir: offline, cacheDir: path.join(work, 'cache') },
    hosts: [1, 2, 3].map((i) => ({ name: `node${i}`, address: `10.77.0.1${i}`, roles: ['etcd', 'server'] })),
    ...extra,
  });
}

function cluster(mode: 'plan' | 'apply', inv = inventory(), stateDir = path.join(work, 'state')): ClusterContext {
  return clusterOf(inv, { mode, stateDir, inventoryPath: path.join(work, 'inventory.yaml') });
}

function localCtx(c: ClusterContext) {
  const messages: string[] = [];
  return { cluster: c, report: (m: string) => messages.push(m), messages };
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-etcd-steps-'));
  offline = buildOfflineDir(work);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function summary(changes: Change[]): string[] {
  return changes.map((c) => {
    switch (c.kind) {
      case 'file':
        return `${c.action} ${c.path} ${c.mode.toString(8)}${c.secret ? ' secret' : ''}`;
      case 'mkdir':
        return `mkdir ${c.path} ${c.mode.toString(8)}`;
      case 'command':
        return c.argv.join(' ');
      case 'service':
        return `${c.action} ${c.unit}${c.fingerprint ? ' +fingerprint' : ''}`;
      case 'action':
        return `action: ${c.title}`;
      default:
        return c.kind;
    }
  });
}

describe('workstation steps: pki.etcd and artifacts.etcd', () => {
  it('plan mode writes nothing locally; apply issues; the next check is up to date and the CA is kept', async () => {
    const stateDir = path.join(work, 'state-pki');
    const plan = cluster('plan', inventory(), stateDir);
    const ctx = localCtx(plan);
    const planned = await pkiEtcd.plan(await pkiEtcd.check(ctx), ctx);
    expect(summary(planned)).toEqual([
      'action: issue CA certificate etcd-ca',
      'action: issue server certificate etcd-server-node1',
      'action: issue peer certificate etcd-peer-node1',
      'action: issue server certificate etcd-server-node2',
      'action: issue peer certificate etcd-peer-node2',
      'action: issue server certificate etcd-server-node3',
      'action: issue peer certificate etcd-peer-node3',
      'action: issue client certificate etcd-client-k3s',
      'action: issue client certificate etcd-admin',
    ]);
    expect(existsSync(stateDir)).toBe(false);

    const apply = localCtx(cluster('apply', inventory(), stateDir));
    await pkiEtcd.apply!(planned, apply);
    expect(await pkiEtcd.plan(await pkiEtcd.check(apply), apply)).toEqual([]);
    const ca = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(stateDir, 'pki', 'etcd-ca.crt')]).toString();

    // a new address for node3: only its two certificates are reissued, the CA stays
    const moved = inventory({ hosts: [1, 2, 3].map((i) => ({ name: `node${i}`, address: i === 3 ? '10.77.0.33' : `10.77.0.1${i}`, roles: ['etcd', 'server'] })) });
    const again = localCtx(cluster('apply', moved, stateDir));
    const reissue = await pkiEtcd.plan(await pkiEtcd.check(again), again);
    expect(summary(reissue).map((s) => s.replace(/ \(.*\)$/, ''))).toEqual(['action: reissue server certificate etcd-server-node3', 'action: reissue peer certificate etcd-peer-node3']);
    await pkiEtcd.apply!(reissue, again);
    expect(execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(stateDir, 'pki', 'etcd-ca.crt')]).toString()).toBe(ca);
  });

  it('artifacts.etcd is up to date when the release is in the offline directory; plan mode writes no cache', async () => {
    const c = cluster('plan');
    const ctx = localCtx(c);
    expect(await artifactsEtcd.plan(await artifactsEtcd.check(ctx), ctx)).toEqual([]);
    const node = new FakeNode('node1', '10.77.0.11');
    const d = await etcdDesired(stepCtx(c, 'node1', node));
    expect(d.binaries.map((b) => [b.path, b.mode.toString(8), b.content.toString()])).toEqual([
      ['/usr/local/bin/etcd', '755', '#!/bin/sh\necho fake etcd\n'],
      ['/usr/local/bin/etcdctl', '755', '#!/bin/sh\necho fake etcdctl\n'],
    ]);
    expect(existsSync(path.join(work, 'cache'))).toBe(false);
  });

  it('an upstream release not downloaded yet: plan says so instead of downloading', async () => {
    const inv = inventory({ artifacts: { source: 'upstream', cacheDir: path.join(work, 'empty-cache') } });
    const c = cluster('plan', inv, path.join(work, 'state-upstream'));
    const ctx = localCtx(c);
    expect(summary(await artifactsEtcd.plan(await artifactsEtcd.check(ctx), ctx))).toEqual([
      `action: download etcd-${VERSION}-linux-amd64.tar.gz into the cache and verify its sha256`,
    ]);
    const sctx = stepCtx(c, 'node1', new FakeNode('node1'));
    expect(summary(await etcdInstall.plan(await etcdInstall.check(sctx), sctx))).toEqual([`action: install etcd ${VERSION} into /usr/local/bin`]);
    expect(existsSync(path.join(work, 'empty-cache'))).toBe(false);
  });
});

describe('etcd host steps on a fresh host, a converged host and a changed configuration', () => {
  it('fresh host: binaries, certificates (keys 0600 secret), configuration, start without waiting', async () => {
    const c = cluster('apply');
    await pkiEtcd.apply!([], localCtx(c));
    const node = new FakeNode('node1', '10.77.0.11');
    node.dirs.set('/usr/local/bin', { mode: 0o755, owner: 'root', group: 'root' });
    node.dirs.set('/etc/systemd/system', { mode: 0o755, owner: 'root', group: 'root' });
    node.dirs.set('/etc/profile.d', { mode: 0o755, owner: 'root', group: 'root' });
    const ctx = stepCtx(c, 'node1', node);

    const install = await etcdInstall.plan(await etcdInstall.check(ctx), ctx);
    expect(summary(install)).toEqual(['create /usr/local/bin/etcd 755', 'create /usr/local/bin/etcdctl 755']);
    await applyChanges(node, install);

    const certs = await etcdCertificatesStep.plan(await etcdCertificatesStep.check(ctx), ctx);
    expect(summary(certs)).toEqual([
      'mkdir /etc/etcd 755',
      'mkdir /etc/etcd/pki 700',
      'create /etc/etcd/pki/ca.crt 644',
      'create /etc/etcd/pki/server.crt 644',
      'create /etc/etcd/pki/server.key 600 secret',
      'create /etc/etcd/pki/peer.crt 644',
      'create /etc/etcd/pki/peer.key 600 secret',
      'create /etc/etcd/pki/admin.crt 644',
      'create /etc/etcd/pki/admin.key 600 secret',
    ]);
    // secret files carry no `before` (never read back)
    expect(certs.filter((x) => x.kind === 'file' && x.secret).every((x) => x.kind === 'file' && !('before' in x))).toBe(true);
    await applyChanges(node, certs);

    const conf = await etcdConfigure.plan(await etcdConfigure.check(ctx), ctx);
    expect(summary(conf)).toEqual([
      'mkdir /var/lib/etcd 700',
      'create /etc/systemd/system/etcd.service 644',
      'create /etc/etcd/etcd.env 644',
      'create /etc/profile.d/etcdctl.sh 644',
      'daemon-reload systemd',
    ]);
    await applyChanges(node, conf);
    node.addUnit('etcd.service');

    const start = await etcdStart.plan(await etcdStart.check(ctx), ctx);
    const fp = (await etcdDesired(ctx)).fingerprint;
    expect(summary(start)).toEqual([
      'mkdir /var/lib/kubi-provision/fingerprints 755',
      `create ${ETCD_FINGERPRINT_PATH} 644`,
      'systemctl start --no-block etcd.service',
      'enable etcd.service',
    ]);
    expect(start.find((x) => x.kind === 'file')).toMatchObject({ content: `${fp}\n` });
    await applyChanges(node, start);
    expect(node.units.get('etcd.service')).toEqual({ enabled: 'enabled', active: 'active' });

    // converged: every step plans nothing (etcd.roll reads the fingerprint and skips the cluster probe)
    node.onScript('observe etcd fingerprint', (script) => {
      expect(script).toContain(`if [ "$(cat ${ETCD_FINGERPRINT_PATH} 2>/dev/null)" != ${fp} ]`);
      return '';
    });
    for (const step of [etcdInstall, etcdCertificatesStep, etcdConfigure, etcdStart, etcdRoll] as const) {
      node.calls.length = 0;
      const s = step as typeof etcdStart;
      expect(await s.plan(await s.check(ctx), ctx)).toEqual([]);
      expect(node.calls.map((x) => [x.kind, x.mutating])).toEqual([['script', false]]);
    }

    // a changed heartbeat: configure rewrites the environment file, start leaves the running
    // member alone, roll restarts it (and records the fingerprint only after the restart)
    const changed = cluster('apply', inventory({ etcd: { heartbeatIntervalMs: 250, electionTimeoutMs: 2500 } }));
    const cctx = stepCtx(changed, 'node1', node);
    const conf2 = await etcdConfigure.plan(await etcdConfigure.check(cctx), cctx);
    expect(summary(conf2)).toEqual(['update /etc/etcd/etcd.env 644']);
    const envChange = conf2[0]!;
    expect(envChange.kind === 'file' && envChange.before).toContain('ETCD_HEARTBEAT_INTERVAL=100');
    expect(envChange.kind === 'file' && String(envChange.content)).toContain('ETCD_HEARTBEAT_INTERVAL=250');
    await applyChanges(node, conf2);
    expect(await etcdStart.plan(await etcdStart.check(cctx), cctx)).toEqual([]);
    const healthy = [
      '',
      '@@kubi:unit@@',
      'ActiveState=active',
      'SubState=running',
      'NRestarts=0',
      'MainPID=10',
      '',
      '@@kubi:health@@',
      JSON.stringify([1, 2, 3].map((i) => ({ endpoint: `https://10.77.0.1${i}:2379`, health: true }))),
      '',
      '@@kubi:members@@',
      JSON.stringify({ members: [1, 2, 3].map((i) => ({ ID: i, name: `node${i}`, peerURLs: [`https://10.77.0.1${i}:2380`], clientURLs: [] })) }),
      '',
      '@@kubi:journal@@',
      '',
    ].join('\n');
    node.onScript('observe etcd fingerprint', () => healthy);
    const roll = await etcdRoll.plan(await etcdRoll.check(cctx), cctx);
    expect(summary(roll)).toEqual([`action: ${HAND_OVER_TITLE}`, 'restart etcd.service +fingerprint']);
    const newFp = (await etcdDesired(cctx)).fingerprint;
    expect(newFp).not.toBe(fp);
    expect(roll[1]).toMatchObject({ fingerprint: { path: ETCD_FINGERPRINT_PATH, value: newFp } });
  });
});

describe('planStart and planRoll rules', () => {
  const obs = (active: string, enabled = 'enabled', fp: string | null = 'abc') => ({
    files: new Map(
      fp === null
        ? []
        : [
            [ETCD_FINGERPRINT_PATH, { path: ETCD_FINGERPRINT_PATH, type: 'file' as const, content: Buffer.from(`${fp}\n`) }],
            ['/var/lib/kubi-provision/fingerprints', { path: '/var/lib/kubi-provision/fingerprints', type: 'dir' as const }],
          ],
    ),
    units: new Map([['etcd.service', { unit: 'etcd.service', enabled, active }]]),
  });

  it('start: a member still activating is waited for, never started twice', () => {
    expect(summary(planStart(obs('activating'), 'abc'))).toEqual([`action: ${WAIT_FOR_START_TITLE}`]);
  });

  it('start: a stopped member with the right fingerprint is started without rewriting it', () => {
    expect(summary(planStart(obs('inactive'), 'abc'))).toEqual(['systemctl start --no-block etcd.service']);
  });

  it('start: a running member is never restarted (that is etcd.roll\'s job)', () => {
    expect(planStart(obs('active', 'enabled', 'old'), 'new')).toEqual([]);
  });

  const rollCtx = () => {
    const c = cluster('apply');
    return { cluster: c, host: c.inventory.hosts[0]! };
  };
  it('roll: not running -> nothing; same fingerprint -> nothing', () => {
    const ctx = rollCtx();
    expect(planRoll({ observation: obs('inactive', 'enabled', 'old'), probe: null }, ctx, 'new')).toEqual([]);
    expect(planRoll({ observation: obs('active'), probe: null }, ctx, 'abc')).toEqual([]);
  });

  it('roll: refuses to restart while another member is unhealthy', () => {
    const ctx = rollCtx();
    const probe = {
      unit: { activeState: 'active', subState: 'running', nRestarts: 0, mainPid: 1 },
      health: [1, 2].map((i) => ({ endpoint: `https://10.77.0.1${i}:2379`, health: true })),
      members: [],
      stderr: '',
      journal: '',
    };
    expect(() => planRoll({ observation: obs('active'), probe }, ctx, 'new')).toThrow(
      'refusing to restart etcd (configuration, certificates or binary changed): the cluster is not healthy: every member to be healthy: node3 not reported',
    );
  });
});

describe('handOverLeadership (scripted fake host)', () => {
  const status = (member: bigint, leader: bigint) =>
    `[{"Endpoint":"https://127.0.0.1:2379","Status":{"header":{"member_id":${member}},"leader":${leader},"version":"3.4.23","raftTerm":2}}]`;
  const members = `{"members":[{"ID":${0xaaaan},"name":"node1","peerURLs":["https://10.77.0.11:2380"],"clientURLs":["https://10.77.0.11:2379"]},{"ID":${0xbbbbn},"name":"node2","peerURLs":["https://10.77.0.12:2380"],"clientURLs":["https://10.77.0.12:2379"]},{"ID":${0xccccn},"name":"node3","peerURLs":["https://10.77.0.13:2380"],"clientURLs":["https://10.77.0.13:2379"]}]}`;

  function node(leader: bigint): FakeNode {
    const has = (argv: readonly string[], word: string) => argv.includes(word);
    return new FakeNode('node1')
      .onExec((a) => has(a, 'status'), () => status(0xaaaan, leader))
      .onExec((a) => has(a, 'list'), () => members)
      .onExec(
        (a) => has(a, 'health'),
        () => '[{"endpoint":"https://10.77.0.12:2379","health":false,"error":"down"},{"endpoint":"https://10.77.0.13:2379","health":true}]',
      )
      .onExec((a) => has(a, 'move-leader'), () => 'Leadership transferred');
  }

  it('a leader hands over to the first healthy peer', async () => {
    const n = node(0xaaaan);
    const c = cluster('apply');
    await handOverLeadership(stepCtx(c, 'node1', n));
    const moves = n.calls.filter((x) => x.what.includes('move-leader'));
    expect(moves).toHaveLength(1);
    expect(moves[0]!.what).toMatch(/move-leader cccc$/);
    expect(moves[0]!.mutating).toBe(true);
  });

  it('a follower does nothing', async () => {
    const n = node(0xbbbbn);
    await handOverLeadership(stepCtx(cluster('apply'), 'node1', n));
    expect(n.calls.map((x) => x.what).filter((w) => w.includes('move-leader'))).toEqual([]);
    expect(n.calls.filter((x) => x.what.includes('status'))).toHaveLength(1);
  });
});
