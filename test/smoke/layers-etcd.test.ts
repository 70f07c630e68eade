/**
 * etcd layer over scripted hosts (TEST DOUBLES) replaying outputs captured from a real etcd 3.4.23
 * cluster (fixtures/etcdctl-3.4.23): healthy, one member stopped (degraded with quorum), no quorum.
 * The same layer runs against real etcd processes in etcd-local.hosts.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/smoke/check.js';
import { etcdLayer } from '../../src/smoke/layers/etcd.js';
import { runSmoke } from '../../src/smoke/runner.js';
import { testContext, testInventory } from './harness/context.js';
import { FakeClock, type Rule, ScriptedHost } from './harness/scripted-host.js';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/etcdctl-3.4.23/${name}`, import.meta.url), 'utf8');
const inventory = testInventory({
  hosts: [1, 2, 3].map((i) => ({ name: `node${i}`, address: `127.0.1.1${i}`, roles: ['etcd', 'server'] as ('etcd' | 'server')[] })),
});

const dir = mkdtempSync(join(tmpdir(), 'kubi-smoke-etcd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function pem(name: string, days: number): string {
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', crt, '-subj', `/CN=${name}`, '-days', String(days)], { stdio: 'pipe' });
  return readFileSync(crt, 'utf8');
}
const certsOutput = `@@file /etc/etcd/pki/ca.crt\n${pem('ca', 3650)}@@file /etc/etcd/pki/server.crt\n${pem('server', 365)}`;
const refused = '@@with-cert-exit=0\n    Verify return code: 0 (ok)\n@@without-cert\n@@without-cert-exit=1\n40479:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n';

function etcdHost(i: number, extra: Rule[] = []): ScriptedHost {
  return new ScriptedHost(`node${i}`, `127.0.1.1${i}`, [
    ...extra,
    { match: /etcdctl .* endpoint health -w json$/, reply: { stdout: fx('health-ok.out') } },
    { match: /etcdctl .* member list -w json$/, reply: { stdout: fx('members.out') } },
    { match: /etcdctl .* endpoint status -w json$/, reply: { stdout: fx('status.out') } },
    { match: /etcdctl .* put \/kubi-verify\/\S+ kubi-verify-\S+$/, reply: { stdout: 'OK\n' } },
    { match: /etcdctl .* get \/kubi-verify\/\S+ --print-value-only$/, reply: { stdout: 'kubi-verify-r002\n' } },
    { match: /etcdctl .* del \/kubi-verify\/\S+$/, reply: { stdout: '1\n' } },
    { match: /etcdctl .* get \/kubi-verify\/\S+ -w json$/, reply: { stdout: fx('get-missing.out') } },
    { match: /openssl s_client/, kind: 'script', reply: { stdout: refused } },
    { match: /@@file/, kind: 'script', reply: { stdout: certsOutput } },
  ]);
}

const byId = (rs: CheckResult[], id: string, host?: string): CheckResult => rs.find((r) => r.id === id && (host === undefined || r.host === host))!;

describe('etcd layer', () => {
  it('passes on a healthy cluster, running etcdctl with the admin certificate and no conflicting env', async () => {
    const hosts = [1, 2, 3].map((i) => etcdHost(i));
    // certificates are made now, so the clock must be now too
    const report = await runSmoke([etcdLayer], testContext({ inventory, hosts, clock: new FakeClock(Date.now()) }));
    const rs = report.layers[0]!.results;
    expect(rs.map((r) => [r.id, r.host ?? '-', r.status])).toEqual([
      ['etcd.health', '-', 'passed'],
      ['etcd.quorum', '-', 'passed'],
      ['etcd.members', '-', 'passed'],
      ['etcd.leader', '-', 'passed'],
      ['etcd.round-trip', '-', 'passed'],
      ['etcd.client-cert-required', 'node1', 'passed'],
      ['etcd.cert-expiry', 'node1', 'passed'],
      ['etcd.client-cert-required', 'node2', 'passed'],
      ['etcd.cert-expiry', 'node2', 'passed'],
      ['etcd.client-cert-required', 'node3', 'passed'],
      ['etcd.cert-expiry', 'node3', 'passed'],
    ]);
    expect(byId(rs, 'etcd.health').message).toBe('3 of 3 members healthy');
    expect(byId(rs, 'etcd.quorum').message).toBe('3 of 3 members healthy, quorum needs 2 (1 more may fail)');
    expect(byId(rs, 'etcd.members').message).toBe('node1, node2, node3');
    expect(byId(rs, 'etcd.leader').message).toBe('leader node1 (term 2), agreed by 3 of 3 endpoints');
    expect(byId(rs, 'etcd.round-trip').message).toMatch(/^put, get and del of \/kubi-verify\/r001-\w+ through node1$/);
    expect(byId(rs, 'etcd.client-cert-required', 'node2').message).toBe('handshake refused without a client certificate (alert bad certificate)');
    expect(byId(rs, 'etcd.cert-expiry', 'node1').message).toMatch(/^2 certificates; the first to expire is server\.crt in 36[45] days$/);

    const health = hosts[0]!.calls.find((c) => c.text.includes('endpoint health'))!;
    expect(health.text).toBe(
      'env -u ETCDCTL_ENDPOINTS -u ETCDCTL_CACERT -u ETCDCTL_CERT -u ETCDCTL_KEY -u ETCDCTL_DIAL_TIMEOUT -u ETCDCTL_COMMAND_TIMEOUT -u ETCDCTL_WRITE_OUT ' +
        'ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key ' +
        '--endpoints https://127.0.1.11:2379,https://127.0.1.12:2379,https://127.0.1.13:2379 --dial-timeout 3s --command-timeout 5s endpoint health -w json',
    );
    expect(health.opts).toMatchObject({ sudo: true, allowFailure: true, mutating: false });
    // only the round trip writes, and it deletes its key
    const writes = hosts[0]!.calls.filter((c) => (c.opts as { mutating?: boolean }).mutating).map((c) => c.text.split(' --command-timeout 5s ')[1]);
    expect(writes).toEqual([expect.stringMatching(/^put \/kubi-verify\/r001-\w+ kubi-verify-r002$/), expect.stringMatching(/^del \/kubi-verify\/r001-\w+$/)]);
  });

  it('with a member stopped: "every member healthy" fails as degraded but with quorum naming it, quorum passes', async () => {
    const clock = new FakeClock();
    const degraded: Rule[] = [
      { match: /endpoint health -w json$/, reply: { stdout: fx('deg-health.out'), stderr: fx('deg-health.err'), exitCode: 1 } },
      { match: /endpoint status -w json$/, reply: { stdout: fx('deg-status.out'), stderr: fx('deg-status.err'), exitCode: 1 } },
      { match: /member list -w json$/, reply: { stdout: fx('deg-members.out') } },
    ];
    const hosts = [etcdHost(1, degraded), etcdHost(2, [...degraded, { match: /^systemctl is-active etcd$/, reply: { stdout: 'inactive\n', exitCode: 3 } }]), etcdHost(3, degraded)];
    const report = await runSmoke([etcdLayer], testContext({ inventory, hosts, clock, options: { timeoutMs: 6_000, intervalMs: 2_000 } }));
    const rs = report.layers[0]!.results;
    const health = byId(rs, 'etcd.health');
    expect(health.status).toBe('failed');
    expect(health.message).toBe(
      'degraded but with quorum: member node2 unhealthy, 2 of 3 healthy — node2 (https://127.0.1.12:2379): context deadline exceeded (still failing after 6.0 s, 3 attempts)',
    );
    expect(health.evidence!.map((e) => [e.host, e.command.split(' ').slice(-4).join(' '), e.exitCode])).toEqual([
      ['node1', 'endpoint health -w json', 1],
      ['node2', 'systemctl is-active etcd', 3],
    ]);
    expect(health.evidence![1]!.output).toBe('inactive');
    expect(byId(rs, 'etcd.quorum')).toMatchObject({ status: 'passed', message: '2 of 3 members healthy, quorum needs 2 (0 more may fail)' });
    expect(byId(rs, 'etcd.leader')).toMatchObject({ status: 'passed', message: 'leader node1 (term 2), agreed by 2 of 3 endpoints; no status from https://127.0.1.12:2379' });
    expect(byId(rs, 'etcd.client-cert-required', 'node2')).toMatchObject({ status: 'not-run', message: 'member node2 is unhealthy' });
    expect(byId(rs, 'etcd.client-cert-required', 'node1').status).toBe('passed');
    expect(report.ok).toBe(false);
    // retried with the injected clock, never waiting for real
    expect(clock.sleeps.filter((s) => s === 2_000).length).toBeGreaterThanOrEqual(2);
  });

  it('with quorum lost: health and quorum fail, no leader', async () => {
    const noq: Rule[] = [
      { match: /endpoint health -w json$/, reply: { stdout: fx('noq-health.out'), stderr: fx('noq-health.err'), exitCode: 1 } },
      { match: /endpoint status -w json$/, reply: { stdout: fx('noq-status.out'), stderr: fx('noq-status.err'), exitCode: 1 } },
      { match: /member list -w json$/, reply: { stdout: fx('noq-members.out') } },
      { match: /put \/kubi-verify/, reply: { stdout: '', stderr: 'Error: context deadline exceeded', exitCode: 1 } },
      { match: /^systemctl is-active etcd$/, reply: { stdout: 'inactive\n', exitCode: 3 } },
    ];
    const hosts = [1, 2, 3].map((i) => etcdHost(i, noq));
    const report = await runSmoke([etcdLayer], testContext({ inventory, hosts, options: { timeoutMs: 2_000, intervalMs: 1_000 } }));
    const rs = report.layers[0]!.results;
    expect(byId(rs, 'etcd.health').message).toMatch(/^quorum lost: only 0 of 3 members healthy \(need 2\)/);
    expect(byId(rs, 'etcd.quorum')).toMatchObject({ status: 'failed', message: 'quorum lost: 0 of 3 members healthy, quorum needs 2' });
    expect(byId(rs, 'etcd.leader').message).toMatch(/^no leader seen by https:\/\/127\.0\.1\.11:2379 \(etcdserver: no leader\)/);
    // the health check already waited: without quorum the later checks report at once
    expect(byId(rs, 'etcd.health').message).toMatch(/still failing after 2\.0 s/);
    expect(byId(rs, 'etcd.leader').message).not.toMatch(/still failing/);
    expect(byId(rs, 'etcd.round-trip').message).not.toMatch(/still failing/);
    expect(byId(rs, 'etcd.round-trip')).toMatchObject({ status: 'failed', message: expect.stringMatching(/^put \/kubi-verify\/\S+ failed on node1/) });
  });

  it('fails when anonymous clients are accepted, warns when it cannot tell, and reports a key read back wrong (deleting it)', async () => {
    const accepted = '@@with-cert-exit=0\n    Verify return code: 0 (ok)\n@@without-cert\n@@without-cert-exit=0\n    Verify return code: 0 (ok)\n';
    const hosts = [
      etcdHost(1, [{ match: /etcdctl .* get \/kubi-verify\/\S+ --print-value-only$/, reply: { stdout: 'something else\n' } }]),
      etcdHost(2, [{ match: /openssl s_client/, kind: 'script', reply: { stdout: accepted } }]),
      etcdHost(3, [{ match: /openssl s_client/, kind: 'script', reply: { stdout: '@@no-openssl\n' } }]),
    ];
    const report = await runSmoke([etcdLayer], testContext({ inventory, hosts, options: { timeoutMs: 0 } }));
    const rs = report.layers[0]!.results;
    expect(byId(rs, 'etcd.client-cert-required', 'node2')).toMatchObject({
      status: 'failed',
      message: 'node2: a client without a certificate completed the TLS handshake on 127.0.1.12:2379',
    });
    expect(byId(rs, 'etcd.client-cert-required', 'node3')).toMatchObject({ status: 'warning', message: 'cannot test on node3: openssl is not installed' });
    expect(byId(rs, 'etcd.round-trip')).toMatchObject({ status: 'failed', message: 'read back "something else", wrote "kubi-verify-r002"' });
    expect(hosts[0]!.commands('exec').filter((c) => / del \/kubi-verify\//.test(c))).toHaveLength(1);
  });

  it('is one not-run row without etcd hosts', async () => {
    const inv = testInventory({ endpoint: { mode: 'none' }, hosts: [{ name: 'a', address: '10.0.0.1', roles: ['server'] }] });
    const report = await runSmoke([etcdLayer], testContext({ inventory: inv, hosts: [] }));
    expect(report.layers[0]!.results).toEqual([expect.objectContaining({ status: 'not-run', message: 'no etcd hosts in the inventory' })]);
  });
});
