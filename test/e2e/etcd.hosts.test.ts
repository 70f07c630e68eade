/**
 * End to end, on real lab nodes (LXC system containers with systemd and sshd, built by
 * `kubi-provision lab up`): the host preparation and the external TLS etcd cluster through the
 * real CLI (`up`/`plan --until etcd`), checked over SSH with etcdctl on the nodes.
 *
 *  1. fresh nodes -> a 3-member TLS etcd cluster, healthy, refusing clients without a certificate,
 *     running exactly the rendered configuration;
 *  2. the second run changes nothing and restarts nothing;
 *  3. a changed heartbeat rolls the members one at a time while the others keep answering;
 *  4. a member that cannot start fails the run naming host and step; the re-run converges.
 *
 * Own lab name and subnet (kubie2e8, 10.168.8.0/24): never collides with other test files or a
 * developer's `lab up`. `lab down` always runs in afterAll.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = 'kubie2e8';
const SUBNET = '10.168.8.0/24';
const NODES = ['node1', 'node2', 'node3'];
const addr = (i: number) => `10.168.8.1${i}`;

let work: string;
let inventory: string;
let keyPath: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program without blocking the test worker; never rejects (the exit code is in the result). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The real CLI (bin/kubi-provision.js over dist/, built by the global test setup). */
function kubi(args: string[], timeoutMs = 600_000): Promise<Run> {
  return run(process.execPath, [path.join(ROOT, 'bin', 'kubi-provision.js'), ...args], timeoutMs);
}

async function ssh(node: number, command: string, allowFailure = false): Promise<string> {
  const r = await run(
    'ssh',
    ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${addr(node)}`, command],
    120_000,
  );
  if (r.code !== 0 && !allowFailure) throw new Error(`ssh node${node} ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout + (allowFailure ? r.stderr : '');
}

const ETCDCTL = (endpoints: string, cert = true) =>
  `env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=${endpoints} --cacert=/etc/etcd/pki/ca.crt` +
  (cert ? ' --cert=/etc/etcd/pki/admin.crt --key=/etc/etcd/pki/admin.key' : '') +
  ' --dial-timeout=2s --command-timeout=4s';

async function mainPids(): Promise<number[]> {
  return Promise.all([1, 2, 3].map(async (n) => Number(((await ssh(n, 'systemctl show -p MainPID --value etcd'))).trim())));
}

/** `systemctl show --timestamp=us+utc` value -> epoch ms (with µs as a fraction). */
function systemdTime(value: string): number {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) UTC/.exec(value);
  if (!m) throw new Error(`not a systemd us+utc timestamp: ${value}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3]) / 1000;
}

async function restartWindow(node: number): Promise<{ exit: number; enter: number }> {
  const out = await ssh(node, 'systemctl show --timestamp=us+utc -p ActiveExitTimestamp -p ActiveEnterTimestamp etcd');
  const kv = Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { exit: systemdTime(kv.ActiveExitTimestamp!), enter: systemdTime(kv.ActiveEnterTimestamp!) };
}

function writeInventory(name: string, etcd?: { heartbeatIntervalMs: number; electionTimeoutMs: number }): string {
  const doc = parse(readFileSync(inventory, 'utf8')) as Record<string, unknown>;
  if (etcd) doc.etcd = etcd;
  const file = path.join(path.dirname(inventory), name);
  writeFileSync(file, stringify(doc));
  return file;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-e2e-etcd-'));
  inventory = path.join(work, 'lab.yaml');
  const up = await kubi(['lab', 'up', '--nodes', '3', '--name', LAB, '--subnet', SUBNET, '--inventory', inventory], 900_000);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}\n${up.stdout}`);
  keyPath = (parse(readFileSync(inventory, 'utf8')) as { ssh: { privateKey: string } }).ssh.privateKey;
});

afterAll(async () => {
  const down = await kubi(['lab', 'down', '--name', LAB], 300_000);
  if (work) rmSync(work, { recursive: true, force: true });
  expect(down.code).toBe(0);
});

describe('etcd the hard way on lab nodes', () => {
  it('plan shows diffs; up --until etcd builds a healthy 3-member TLS cluster that refuses clients without a certificate', async () => {
    const plan = await kubi(['plan', inventory, '--until', 'etcd']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('+++ b/etc/etcd/etcd.env');
    expect(plan.stdout).toContain('+ETCD_NAME=node1');
    expect(plan.stdout).toContain('systemctl start --no-block etcd.service');
    // plan changed nothing on the hosts
    expect((await ssh(1, 'test -e /etc/etcd/etcd.env && echo present || echo absent')).trim()).toBe('absent');

    const up = await kubi(['up', inventory, '--until', 'etcd']);
    expect(up.code, up.stdout + up.stderr).toBe(0);

    for (const n of [1, 2, 3]) {
      const health = JSON.parse(await ssh(n, `${ETCDCTL('https://127.0.0.1:2379')} endpoint health --cluster -w json`)) as { endpoint: string; health: boolean }[];
      expect(health.map((h) => [h.endpoint, h.health]).sort()).toEqual([1, 2, 3].map((i) => [`https://${addr(i)}:2379`, true]));
      const members = JSON.parse(await ssh(n, `${ETCDCTL('https://127.0.0.1:2379')} member list -w json`)) as { members: { name: string; peerURLs: string[] }[] };
      expect(members.members.map((m) => [m.name, m.peerURLs]).sort()).toEqual(NODES.map((name, i) => [name, [`https://${addr(i + 1)}:2380`]]));
    }

    // a client without a certificate is refused (the same call with the admin certificate works)
    const refused = await ssh(1, `${ETCDCTL(`https://${addr(2)}:2379`, false)} endpoint health; echo "exit=$?"`, true);
    expect(refused).toMatch(/exit=[1-9]/);
    expect(refused).not.toMatch(/is healthy/);
    expect(await ssh(1, `${ETCDCTL(`https://${addr(2)}:2379`)} endpoint health 2>&1`)).toMatch(/is healthy/);
    const tls = await ssh(1, `curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt https://${addr(3)}:2379/version; echo "exit=$?"`, true);
    expect(tls).toMatch(/exit=(35|55|56)/);

    // the running etcd accepted the rendered configuration: it runs with exactly those settings
    for (const n of [1, 2, 3]) {
      const env = await ssh(n, 'tr "\\0" "\\n" < /proc/$(systemctl show -p MainPID --value etcd)/environ | grep ^ETCD_ | sort');
      const file = await ssh(n, 'grep ^ETCD_ /etc/etcd/etcd.env | sort');
      expect(env).toBe(file);
      expect(env).toContain(`ETCD_NAME=node${n}`);
      expect((await ssh(n, 'systemctl is-active etcd')).trim()).toBe('active');
      // host preparation happened for real
      expect((await ssh(n, 'cat /proc/sys/net/ipv4/ip_forward')).trim()).toBe('1');
      expect(await ssh(n, "dpkg-query -W -f '${Package} ${db:Status-Status}\\n' conntrack socat ipset iptables")).toBe(
        'conntrack installed\nipset installed\niptables installed\nsocat installed\n', // dpkg-query sorts by name
      );
      expect(await ssh(n, 'stat -c "%a %U" /etc/etcd/pki /etc/etcd/pki/server.key /etc/etcd/pki/peer.key /etc/etcd/pki/admin.key /var/lib/etcd')).toBe(
        '700 root\n600 root\n600 root\n600 root\n700 root\n',
      );
    }
  });

  it('the second run is up to date and restarts no etcd', async () => {
    const before = await mainPids();
    const plan = await kubi(['plan', inventory, '--until', 'etcd', '--output', 'json']);
    expect(plan.code).toBe(0);
    const report = JSON.parse(plan.stdout) as { totalChanges: number; upToDate: boolean };
    expect(report.totalChanges).toBe(0);
    expect(report.upToDate).toBe(true);
    const up = await kubi(['up', inventory, '--until', 'etcd']);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/up to date/);
    expect(await mainPids()).toEqual(before);
  });

  it('a changed heartbeat restarts one member at a time while the others keep answering', async () => {
    const before = await mainPids();
    const changed = writeInventory('lab-heartbeat.yaml', { heartbeatIntervalMs: 250, electionTimeoutMs: 2500 });
    // pollers on node1: put + get through each member every 200 ms, until told to stop
    const poller = [
      'n=$1; url=$2; i=0',
      `E="${ETCDCTL('$url').replace('--command-timeout=4s', '--command-timeout=2s')}"`,
      'while [ ! -e /tmp/kubi-stop-poll ]; do',
      '  i=$((i+1)); t=$(date +%s.%N)',
      '  if $E put /kubi-e2e/poll-$n "v$i" >/dev/null 2>&1 && [ "$($E get --print-value-only /kubi-e2e/poll-$n 2>/dev/null)" = "v$i" ]; then echo "$t ok"; else echo "$t fail"; fi',
      '  sleep 0.2',
      'done',
    ].join('\n');
    await ssh(1, `cat > /root/kubi-poll.sh <<'EOF'\n${poller}\nEOF\nrm -f /tmp/kubi-stop-poll; for i in 1 2 3; do nohup bash /root/kubi-poll.sh $i https://10.168.8.1$i:2379 > /root/kubi-poll-$i.log 2>&1 < /dev/null & done; sleep 1`);
    let up: Run;
    try {
      up = await kubi(['up', changed, '--until', 'etcd']);
    } finally {
      await ssh(1, 'sleep 1; touch /tmp/kubi-stop-poll; sleep 1');
    }
    expect(up.code, up.stdout + up.stderr).toBe(0);

    // every member restarted, with the new setting
    const after = await mainPids();
    after.forEach((pid, i) => expect(pid).not.toBe(before[i]));
    for (const n of [1, 2, 3]) expect(await ssh(n, 'tr "\\0" "\\n" < /proc/$(systemctl show -p MainPID --value etcd)/environ | grep ^ETCD_HEARTBEAT')).toBe('ETCD_HEARTBEAT_INTERVAL=250\n');

    // one at a time: each member was back (active) before the next one stopped, in inventory order
    const windows = await Promise.all([1, 2, 3].map(restartWindow));
    for (let i = 1; i < 3; i++) expect(windows[i]!.exit).toBeGreaterThan(windows[i - 1]!.enter);

    // the cluster answered throughout: a poller only ever failed through the member being restarted
    const polls: { t: number; ok: boolean }[][] = [];
    for (const n of [1, 2, 3]) {
      const log = (await ssh(1, `cat /root/kubi-poll-${n}.log`)).trim();
      polls.push(log.split('\n').map((l) => ({ t: Number(l.split(' ')[0]) * 1000, ok: l.endsWith(' ok') })));
    }
    polls.forEach((samples, i) => {
      expect(samples.length).toBeGreaterThan(10);
      // the pollers ran across the whole roll
      expect(samples[0]!.t).toBeLessThan(windows[0]!.exit);
      expect(samples[samples.length - 1]!.t).toBeGreaterThan(windows[2]!.enter);
      const own = windows[i]!;
      const failures = samples.filter((s) => !s.ok);
      for (const f of failures) {
        // a failing request may have started shortly before its member stopped and its member may need a moment after
        expect(f.t, `poller of node${i + 1} failed at ${new Date(f.t).toISOString()} outside node${i + 1}'s restart`).toBeGreaterThan(own.exit - 2500);
        expect(f.t).toBeLessThan(own.enter + 3000);
      }
      // and through the other members at the same time nothing failed
      const othersDuring = polls.flatMap((p, j) => (j === i ? [] : p.filter((s) => s.t >= own.exit && s.t <= own.enter)));
      expect(othersDuring.every((s) => s.ok)).toBe(true);
    });

    // converged again
    const again = await kubi(['plan', changed, '--until', 'etcd', '--output', 'json']);
    expect((JSON.parse(again.stdout) as { totalChanges: number }).totalChanges).toBe(0);
  });

  it('a member that cannot start fails the run naming host and step; once it can, the re-run converges', async () => {
    const changed = writeInventory('lab-heartbeat.yaml', { heartbeatIntervalMs: 250, electionTimeoutMs: 2500 });
    // block etcd on node3: stopped, and every start fails before etcd runs
    await ssh(3, 'mkdir -p /etc/systemd/system/etcd.service.d && printf "[Service]\\nExecStartPre=/bin/false\\n" > /etc/systemd/system/etcd.service.d/kubi-e2e-block.conf && systemctl daemon-reload && systemctl stop etcd');
    const failed = await kubi(['up', changed, '--until', 'etcd']);
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/failed: node3: etcd\.start: etcd keeps exiting/);

    await ssh(3, 'rm -rf /etc/systemd/system/etcd.service.d && systemctl daemon-reload');
    const rerun = await kubi(['up', changed, '--until', 'etcd']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const health = JSON.parse(await ssh(3, `${ETCDCTL('https://127.0.0.1:2379')} endpoint health --cluster -w json`)) as { health: boolean }[];
    expect(health.filter((h) => h.health)).toHaveLength(3);
    const third = await kubi(['up', changed, '--until', 'etcd']);
    expect(third.stdout).toMatch(/up to date/);
  });
});
