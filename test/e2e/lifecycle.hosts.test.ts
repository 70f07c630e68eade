/**
 * Node lifecycle end to end, on real lab nodes (LXC system containers, Debian's etcd 3.4.23), all
 * through the real CLI, checked over SSH with etcdctl on the nodes:
 *
 *  1. `lab rebuild` of an etcd node (wiped disk, new host key), then `replace`: three healthy
 *     voting members, the data written before readable on the rebuilt node, the next plan empty;
 *  2. the same with a new address: the other members' configuration names the new one;
 *  3. `replace` of the FIRST inventory host works like any other;
 *  4. `replace` while two of three members are down: refused with the numbers, nothing changed;
 *  5. a version change (a second etcd build) rolls the binary one member at a time while a
 *     writer on a node keeps writing through all members: not one write fails (quorum was never
 *     lost);
 *  6. `backup`, every member's data destroyed, `restore`: the keys written before are back;
 *  7. `remove` refuses an even count, removes with --force (member gone, host reset), and the
 *     next `up` adds the host that is still in the inventory back (learner -> voter);
 *  8. `reset` leaves the hosts clean (a second reset plans nothing), and `up` converges again;
 *  9. a running member's address changes in the inventory (same machine, a new IP): `up` updates
 *     its peer URL, restarts it on the new address, then rolls the others.
 *
 * Own lab name and subnet (kubilc11, 10.210.11.0/24); `lab down` always runs in afterAll.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = 'kubilc11';
const SUBNET = '10.210.11.0/24';
const NODES = ['node1', 'node2', 'node3'] as const;

let work: string;
/** a private copy of the built CLI: other engineers' test runs rebuild dist/ while this file runs for minutes */
let cliRoot = ROOT;
/** the inventory in use (the rolling-change test switches to a copy with other etcd timings) */
let inventory: string;
let labInventory: string;
let keyPath: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a child process, asynchronously: a synchronous spawn would block this worker's event
 * loop for the minute a replace takes, and vitest's worker RPC times out meanwhile.
 */
function kubi(args: string[], timeoutMs = 600_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(cliRoot, 'bin', 'kubi-provision.js'), ...args], { cwd: cliRoot, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const both = (r: Run) => `${r.stdout}\n${r.stderr}`;

function addressOf(node: string): string {
  const doc = parse(readFileSync(inventory, 'utf8')) as { hosts: { name: string; address: string }[] };
  return doc.hosts.find((h) => h.name === node)!.address;
}

function ssh(node: string, command: string, allowFailure = false): string {
  const r = spawnSync(
    'ssh',
    ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${addressOf(node)}`, command],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0 && !allowFailure) throw new Error(`ssh ${node} ${command}: exit ${r.status}: ${r.stderr}`);
  return (r.stdout ?? '') + (allowFailure ? (r.stderr ?? '') : '');
}

const ETCDCTL = (endpoints = 'https://127.0.0.1:2379') =>
  `env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=${endpoints} --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/admin.crt --key=/etc/etcd/pki/admin.key --dial-timeout=2s --command-timeout=5s`;

interface MemberJson {
  ID: number;
  name?: string;
  peerURLs: string[];
  isLearner?: boolean;
}

function members(node: string): { id: string; name: string; peer: string; learner: boolean }[] {
  const text = ssh(node, `${ETCDCTL()} member list -w json`).replace(/"ID":(\d+)/g, '"ID":"$1"');
  return (JSON.parse(text) as { members: (Omit<MemberJson, 'ID'> & { ID: string })[] }).members
    .map((m) => ({ id: m.ID, name: m.name ?? '', peer: m.peerURLs.join(','), learner: m.isLearner === true }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Three healthy voters named after the inventory with its peer URLs, seen from `node`. */
function expectHealthyCluster(node: string): void {
  const health = JSON.parse(ssh(node, `${ETCDCTL()} endpoint health --cluster -w json`)) as { endpoint: string; health: boolean }[];
  expect(health.map((h) => [h.endpoint, h.health]).sort()).toEqual(NODES.map((n) => [`https://${addressOf(n)}:2379`, true]).sort());
  expect(members(node).map((m) => [m.name, m.peer, m.learner])).toEqual(NODES.map((n) => [n, `https://${addressOf(n)}:2380`, false]));
}

/** The keys written at the start, read from `node`'s own copy (serializable: no help from the leader). */
function expectOldKeys(node: string): void {
  for (const k of ['k1', 'k2', 'k3']) expect(ssh(node, `${ETCDCTL()} get /kubi-e2e/${k} --print-value-only --consistency=s`).trim()).toBe(`value-${k}`);
}

async function expectPlanEmpty(): Promise<void> {
  const plan = await kubi(['plan', inventory, '--until', 'etcd']);
  expect(plan.code, both(plan)).toBe(0);
  expect(plan.stdout).toContain('nothing to change');
}

/** `systemctl show --timestamp=us+utc` value -> epoch ms (with µs as a fraction). */
function systemdTime(value: string): number {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) UTC/.exec(value);
  if (!m) throw new Error(`not a systemd us+utc timestamp: ${value}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3]) / 1000;
}

async function rebuild(node: string, newAddress = false): Promise<void> {
  const r = await kubi(['lab', 'rebuild', node, '--name', LAB, ...(newAddress ? ['--new-address'] : [])], 300_000);
  expect(r.code, both(r)).toBe(0);
}

/** Copy what the CLI needs at run time (bin, dist, templates, playbooks, package.json; node_modules linked). */
function snapshotBuild(into: string): string {
  const dir = path.join(into, 'cli');
  for (const entry of ['bin', 'dist', 'templates', 'playbooks', 'package.json']) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-e2e-lifecycle-'));
  cliRoot = snapshotBuild(work);
  labInventory = path.join(work, 'lab.yaml');
  inventory = labInventory;
  const up = await kubi(['lab', 'up', '--nodes', '3', '--name', LAB, '--subnet', SUBNET, '--inventory', labInventory], 900_000);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}\n${up.stdout}`);
  keyPath = (parse(readFileSync(labInventory, 'utf8')) as { ssh: { privateKey: string } }).ssh.privateKey;
  const cluster = await kubi(['up', inventory, '--until', 'etcd', '--quiet']);
  if (cluster.code !== 0) throw new Error(`up failed (${cluster.code}): ${both(cluster)}`);
  for (const k of ['k1', 'k2', 'k3']) ssh('node2', `${ETCDCTL()} put /kubi-e2e/${k} value-${k}`);
});

afterAll(async () => {
  const down = await kubi(['lab', 'down', '--name', LAB], 300_000);
  if (work) rmSync(work, { recursive: true, force: true });
  expect(down.code).toBe(0);
});

describe('node lifecycle on lab nodes', () => {
  it('a rebuilt etcd node (new disk, new host key) is replaced: 3 healthy voters, old data on it, nothing left to plan', async () => {
    const before = members('node1').find((m) => m.name === 'node3')!.id;
    await rebuild('node3');
    // the rebuilt host is recognised: its new key is refused until the user agrees to forget the old one
    const refused = await kubi(['plan', inventory, '--until', 'etcd']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('does not match the recorded one');

    const r = await kubi(['replace', inventory, 'node3', '--yes', '--until', 'etcd', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    expect(r.stdout).toContain('forgot the host key of node3');
    expect(r.stdout).toContain(`removing the stale member node3 ${BigInt(before).toString(16)}`);
    expect(r.stdout).toContain('node3 replaced');

    expectHealthyCluster('node3');
    expect(members('node1').find((m) => m.name === 'node3')!.id).not.toBe(before);
    expectOldKeys('node3');
    // the transient join settings are gone again
    expect(ssh('node3', 'ls /run/systemd/system/etcd.service.d/50-kubi-join.conf /run/kubi-provision/etcd-join.env 2>&1 || true')).toContain('No such file');
    await expectPlanEmpty();
  });

  it('a rebuilt node with a new address is replaced; the other members\' configuration names the new address', async () => {
    const oldAddress = addressOf('node2');
    await rebuild('node2', true);
    const newAddress = addressOf('node2');
    expect(newAddress).not.toBe(oldAddress);

    const r = await kubi(['replace', inventory, 'node2', '--yes', '--until', 'etcd', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    expect(r.stdout).toContain(`removing the stale member node2`);
    expect(r.stdout).toContain(`(https://${oldAddress}:2380)`);
    expect(r.stdout).toContain(`node2 has a new address (${newAddress})`);

    expectHealthyCluster('node1');
    expectOldKeys('node2');
    for (const n of ['node1', 'node3']) {
      const env = ssh(n, 'grep ^ETCD_INITIAL_CLUSTER= /etc/etcd/etcd.env');
      expect(env).toContain(`node2=https://${newAddress}:2380`);
      expect(env).not.toContain(oldAddress);
    }
    // its certificates were reissued for the new address
    expect(ssh('node2', 'openssl x509 -in /etc/etcd/pki/peer.crt -noout -ext subjectAltName')).toContain(`IP Address:${newAddress}`);
    await expectPlanEmpty();
  });

  it('replacing the first host of the inventory works exactly like any other', async () => {
    await rebuild('node1');
    const r = await kubi(['replace', inventory, 'node1', '--yes', '--until', 'etcd', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    expect(r.stdout).toMatch(/etcd: working through node[23] /);
    expect(r.stdout).toContain('removing the stale member node1');
    expectHealthyCluster('node1');
    expectOldKeys('node1');
    await expectPlanEmpty();
  });

  it('replace with two of three members down is refused with the numbers, and changes nothing', async () => {
    const before = members('node1');
    ssh('node2', 'systemctl stop etcd');
    try {
      await rebuild('node3');
      const r = await kubi(['replace', inventory, 'node3', '--yes', '--until', 'etcd', '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('refusing to replace node3');
      expect(r.stderr).toContain('0 of the 2 other members are healthy, 2 are needed');
      expect(r.stderr).toContain('etcd has 3 voting members');
      expect(r.stderr).toContain('node3 (being replaced)');
      expect(r.stderr).toContain('kubi-provision restore');
    } finally {
      ssh('node2', 'systemctl start etcd');
    }
    // nothing was removed: node3's stale member is still listed
    expect(members('node1')).toEqual(before);
    // with node2 back, the same replace goes through
    const again = await kubi(['replace', inventory, 'node3', '--yes', '--until', 'etcd', '--quiet']);
    expect(again.code, both(again)).toBe(0);
    expectHealthyCluster('node2');
    expectOldKeys('node3');
  });

  it('a version change (a second etcd build) rolls the binary one member at a time; a writer through all members never fails', async () => {
    const endpoints = NODES.map((n) => `https://${addressOf(n)}:2379`).join(',');
    const poller = `#!/bin/bash
# one write through all members every 0.2 s; a line per attempt: <epoch ms> ok|fail <error>
E="${ETCDCTL(endpoints)}"
i=0
while [ ! -e /tmp/kubi-poller.stop ]; do
  i=$((i+1))
  if $E put /kubi-e2e/poll "$i" >/dev/null 2>/tmp/kubi-poller.err; then echo "$(date +%s%3N) ok"; else echo "$(date +%s%3N) fail $(tail -n1 /tmp/kubi-poller.err)"; fi
  sleep 0.2
done
`;
    // the lab has one etcd build (Debian's 3.4.23); the second one is the same etcd with bytes
    // appended to the binary (it still runs, its checksum differs), published as v3.4.99 in an
    // offline directory of this test that links everything else to the lab's
    const labDoc = parse(readFileSync(labInventory, 'utf8')) as { artifacts: { dir: string } };
    const labArtifacts = labDoc.artifacts.dir;
    const artifacts = path.join(work, 'artifacts');
    mkdirSync(path.join(artifacts, 'etcd', 'v3.4.99'), { recursive: true });
    for (const e of readdirSync(labArtifacts)) if (e !== 'etcd') symlinkSync(path.join(labArtifacts, e), path.join(artifacts, e));
    symlinkSync(path.join(labArtifacts, 'etcd', 'v3.4.23'), path.join(artifacts, 'etcd', 'v3.4.23'));
    const build = path.join(work, 'etcd-build');
    mkdirSync(build);
    const sh = (cmd: string) => {
      const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
      return r.stdout;
    };
    sh(`set -e; cd ${build}; tar -xzf ${labArtifacts}/etcd/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz; mv etcd-v3.4.23-linux-amd64 etcd-v3.4.99-linux-amd64
printf 'kubi-e2e second build' >> etcd-v3.4.99-linux-amd64/etcd
tar -czf ${artifacts}/etcd/v3.4.99/etcd-v3.4.99-linux-amd64.tar.gz etcd-v3.4.99-linux-amd64
cd ${artifacts}/etcd/v3.4.99 && sha256sum etcd-v3.4.99-linux-amd64.tar.gz > SHA256SUMS`);
    const newSha = sh(`sha256sum ${build}/etcd-v3.4.99-linux-amd64/etcd`).split(' ')[0]!;

    const pidsBefore = NODES.map((n) => ssh(n, 'systemctl show -p MainPID --value etcd').trim());
    spawnSync('ssh', ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${addressOf('node1')}`, 'cat > /root/kubi-poller.sh && chmod 0755 /root/kubi-poller.sh'], {
      input: poller,
      encoding: 'utf8',
    });
    ssh('node1', 'rm -f /tmp/kubi-poller.stop; nohup /root/kubi-poller.sh > /root/kubi-poller.log 2>&1 < /dev/null & sleep 1');

    const doc = parse(readFileSync(labInventory, 'utf8')) as { versions: Record<string, string>; artifacts: { dir: string } };
    doc.versions.etcd = 'v3.4.99';
    doc.artifacts.dir = artifacts;
    inventory = path.join(work, 'lab-etcd-v3.4.99.yaml');
    writeFileSync(inventory, stringify(doc));
    const up = await kubi(['up', inventory, '--until', 'etcd', '--quiet']);
    ssh('node1', 'touch /tmp/kubi-poller.stop; sleep 1');
    expect(up.code, both(up)).toBe(0);

    const log = ssh('node1', 'cat /root/kubi-poller.log').trim().split('\n');
    const fails = log.filter((l) => !l.endsWith(' ok'));
    expect(fails).toEqual([]);
    expect(log.length).toBeGreaterThan(10);
    // every member restarted, and runs the new binary
    const pidsAfter = NODES.map((n) => ssh(n, 'systemctl show -p MainPID --value etcd').trim());
    pidsAfter.forEach((p, i) => expect(p).not.toBe(pidsBefore[i]));
    for (const n of NODES) expect(ssh(n, 'sha256sum /proc/$(systemctl show -p MainPID --value etcd)/exe').split(' ')[0]).toBe(newSha);
    // one at a time: each member was up again before the next one stopped
    const windows = NODES.map((n) => {
      const kv = Object.fromEntries(
        ssh(n, 'systemctl show --timestamp=us+utc -p ActiveExitTimestamp -p ActiveEnterTimestamp etcd')
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), systemdTime(l.slice(l.indexOf('=') + 1))]),
      ) as Record<string, number>;
      return { exit: kv.ActiveExitTimestamp!, enter: kv.ActiveEnterTimestamp! };
    }).sort((a, b) => a.exit - b.exit);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.exit).toBeGreaterThanOrEqual(windows[i - 1]!.enter);
    expectHealthyCluster('node3');
    await expectPlanEmpty();
  });

  it('backup, every member\'s data destroyed, restore: the keys from before the backup are back', async () => {
    const b = await kubi(['backup', inventory, '--quiet']);
    expect(b.code, both(b)).toBe(0);
    const dir = /backup written to (\S+):/.exec(b.stdout)?.[1];
    expect(dir).toBeDefined();
    expect(statSync(dir!).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir!, 'etcd-snapshot.db')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir!, 'state', 'pki')).isDirectory()).toBe(true);
    const sum = spawnSync('sha256sum', ['-c', 'etcd-snapshot.db.sha256'], { cwd: dir!, encoding: 'utf8' });
    expect(sum.status, sum.stdout + sum.stderr).toBe(0);

    ssh('node1', `${ETCDCTL()} put /kubi-e2e/after-backup lost`);
    for (const n of NODES) ssh(n, 'systemctl stop etcd && find /var/lib/etcd -mindepth 1 -delete');
    expect(ssh('node1', 'ls -A /var/lib/etcd').trim()).toBe('');

    const r = await kubi(['restore', inventory, dir!, '--yes', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    expect(r.stdout).toContain('etcd restored: every member healthy');
    expectHealthyCluster('node1');
    for (const n of NODES) expectOldKeys(n);
    expect(ssh('node2', `${ETCDCTL()} get /kubi-e2e/after-backup --print-value-only`).trim()).toBe('');
    await expectPlanEmpty();
  });

  it('remove refuses an even count; with --force it removes and resets; the next up adds the host back', async () => {
    const before = members('node1');
    const refused = await kubi(['remove', inventory, 'node3', '--yes', '--quiet']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('would leave an even number of etcd members (2): refused without --force');
    expect(members('node1')).toEqual(before);

    const r = await kubi(['remove', inventory, 'node3', '--yes', '--force', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    expect(r.stdout).toContain('delete the entry of node3 under hosts:');
    expect(members('node1').map((m) => m.name)).toEqual(['node1', 'node2']);
    expect(ssh('node3', 'ls /usr/local/bin/etcd /etc/etcd 2>&1 || true')).toContain('No such file');

    // node3 is still in the inventory: the next up adds it again (learner -> voter), one member at a time
    const up = await kubi(['up', inventory, '--until', 'etcd', '--quiet']);
    expect(up.code, both(up)).toBe(0);
    expectHealthyCluster('node3');
    expectOldKeys('node3');
    await expectPlanEmpty();
  });

  it('reset removes what the tool installed (a second reset plans nothing); up converges again', async () => {
    const plan = await kubi(['plan', inventory, '--playbook', 'reset']);
    expect(plan.code, both(plan)).toBe(0);
    expect(plan.stdout).toContain('systemctl stop etcd.service');
    expect(plan.stdout).toContain('/usr/local/bin/etcd');

    const r = await kubi(['reset', inventory, '--yes', '--quiet']);
    expect(r.code, both(r)).toBe(0);
    for (const n of NODES) {
      expect(ssh(n, 'systemctl is-active etcd || true').trim()).not.toBe('active');
      expect(ssh(n, 'ls /usr/local/bin/etcd /etc/etcd /etc/systemd/system/etcd.service /var/lib/kubi-provision 2>&1 | grep -c "No such file"').trim()).toBe('4');
      expect(ssh(n, 'ls -A /var/lib/etcd').trim()).toBe('');
    }
    const again = await kubi(['plan', inventory, '--playbook', 'reset']);
    expect(again.code, both(again)).toBe(0);
    expect(again.stdout).toContain('nothing to change');

    const up = await kubi(['up', inventory, '--until', 'etcd', '--quiet']);
    expect(up.code, both(up)).toBe(0);
    expectHealthyCluster('node2');
    await expectPlanEmpty();
  });

  it('a running member whose address changed (same machine, new IP) is moved by up: member update, restart, then the others roll', async () => {
    const oldAddress = addressOf('node3');
    const newAddress = '10.210.11.60';
    ssh('node1', `${ETCDCTL()} put /kubi-e2e/before-move moved-along`);
    ssh('node3', `dev=$(ip -o -4 addr show | awk '$4 ~ /^${oldAddress.replace(/\./g, '\\.')}\\// {print $2}'); ip addr add ${newAddress}/24 dev "$dev"`);
    const doc = parse(readFileSync(inventory, 'utf8')) as { hosts: { name: string; address: string }[] };
    doc.hosts.find((h) => h.name === 'node3')!.address = newAddress;
    inventory = path.join(work, 'lab-node3-moved.yaml');
    writeFileSync(inventory, stringify(doc));

    const up = await kubi(['up', inventory, '--until', 'etcd', '--quiet']);
    expect(up.code, both(up)).toBe(0);
    expectHealthyCluster('node1');
    expect(ssh('node1', 'grep ^ETCD_INITIAL_CLUSTER= /etc/etcd/etcd.env')).toContain(`node3=https://${newAddress}:2380`);
    const listening = ssh('node3', 'ss -ltnH');
    expect(listening).toContain(`${newAddress}:2379`);
    expect(listening).not.toContain(`${oldAddress}:2379`);
    expect(ssh('node3', `${ETCDCTL()} get /kubi-e2e/before-move --print-value-only --consistency=s`).trim()).toBe('moved-along');
    await expectPlanEmpty();
  });
});
