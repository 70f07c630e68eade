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
 * Own lab name and subnet (kubie2e8, 10.89.0.0/24): never collides with other test files or a
 * developer's `lab up`. `lab down` always runs in afterAll.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = 'kubie2e8';
const SUBNET = '10.89.0.0/24';
const NODES = ['node1', 'node2', 'node3'];
const addr = (i: number) => `10.89.0.1${i}`;

let work: string;
let inventory: string;
let keyPath: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kubi(args: string[], timeoutMs = 600_000): Run {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'kubi-provision.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function ssh(node: number, command: string, allowFailure = false): string {
  const r = spawnSync(
    'ssh',
    ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${addr(node)}`, command],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0 && !allowFailure) throw new Error(`ssh node${node} ${command}: exit ${r.status}: ${r.stderr}`);
  return (r.stdout ?? '') + (allowFailure ? (r.stderr ?? '') : '');
}

const ETCDCTL = (endpoints: string, cert = true) =>
  `env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=${endpoints} --cacert=/etc/etcd/pki/ca.crt` +
  (cert ? ' --cert=/etc/etcd/pki/admin.crt --key=/etc/etcd/pki/admin.key' : '') +
  ' --dial-timeout=2s --command-timeout=4s';

function mainPids(): number[] {
  return [1, 2, 3].map((n) => Number(ssh(n, 'systemctl show -p MainPID --value etcd').trim()));
}

/** `systemctl show --timestamp=us+utc` value -> epoch ms (with µs as a fraction). */
function systemdTime(value: string): number {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) UTC/.exec(value);
  if (!m) throw new Error(`not a systemd us+utc timestamp: ${value}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3]) / 1000;
}

function restartWindow(node: number): { exit: number; enter: number } {
  const out = ssh(node, 'systemctl show --timestamp=us+utc -p ActiveExitTimestamp -p ActiveEnterTimestamp etcd');
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

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-e2e-etcd-'));
  inventory = path.join(work, 'lab.yaml');
  const up = kubi(['lab', 'up', '--nodes', '3', '--name', LAB, '--subnet', SUBNET, '--inventory', inventory], 900_000);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}\n${up.stdout}`);
  keyPath = (parse(readFileSync(inventory, 'utf8')) as { ssh: { privateKey: string } }).ssh.privateKey;
});

afterAll(() => {
  const down = kubi(['lab', 'down', '--name', LAB], 300_000);
  if (work) rmSync(work, { recursive: true, force: true });
  expect(down.code).toBe(0);
});

describe('etcd the hard way on lab nodes', () => {
  it('plan shows diffs; up --until etcd builds a healthy 3-member TLS cluster that refuses clients without a certificate', () => {
    const plan = kubi(['plan', inventory, '--until', 'etcd']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('+++ b/etc/etcd/etcd.env');
    expect(plan.stdout).toContain('+ETCD_NAME=node1');
    expect(plan.stdout).toContain('systemctl start --no-block etcd.service');
    // plan changed nothing on the hosts
    expect(ssh(1, 'test -e /etc/etcd/etcd.env && echo present || echo absent').trim()).toBe('absent');

    const up = kubi(['up', inventory, '--until', 'etcd']);
    expect(up.code, up.stdout + up.stderr).toBe(0);

    for (const n of [1, 2, 3]) {
      const health = JSON.parse(ssh(n, `${ETCDCTL('https://127.0.0.1:2379')} endpoint health --cluster -w json`)) as { endpoint: string; health: boolean }[];
      expect(health.map((h) => [h.endpoint, h.health]).sort()).toEqual([1, 2, 3].map((i) => [`https://${addr(i)}:2379`, true]));
      const members = JSON.parse(ssh(n, `${ETCDCTL('https://127.0.0.1:2379')} member list -w json`)) as { members: { name: string; peerURLs: string[] }[] };
      expect(members.members.map((m) => [m.name, m.peerURLs]).sort()).toEqual(NODES.map((name, i) => [name, [`https://${addr(i + 1)}:2380`]]));
    }

    // a client without a certificate is refused (the same call with the admin certificate works)
    const refused = ssh(1, `${ETCDCTL(`https://${addr(2)}:2379`, false)} endpoint health; echo "exit=$?"`, true);
    expect(refused).toMatch(/exit=[1-9]/);
    expect(refused).not.toMatch(/is healthy/);
    expect(ssh(1, `${ETCDCTL(`https://${addr(2)}:2379`)} endpoint health 2>&1`)).toMatch(/is healthy/);
    const tls = ssh(1, `curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt https://${addr(3)}:2379/version; echo "exit=$?"`, true);
    expect(tls).toMatch(/exit=(35|55|56)/);

    // the running etcd accepted the rendered configuration: it runs with exactly those settings
    for (const n of [1, 2, 3]) {
      const env = ssh(n, 'tr "\\0" "\\n" < /proc/$(systemctl show -p MainPID --value etcd)/environ | grep ^ETCD_ | sort');
      const file = ssh(n, 'grep ^ETCD_ /etc/etcd/etcd.env | sort');
      expect(env).toBe(file);
      expect(env).toContain(`ETCD_NAME=node${n}`);
      expect(ssh(n, 'systemctl is-active etcd').trim()).toBe('active');
      // host preparation happened for real
      expect(ssh(n, 'cat /proc/sys/net/ipv4/ip_forward').trim()).toBe('1');
      expect(ssh(n, "dpkg-query -W -f '${Package} ${db:Status-Status}\\n' conntrack socat ipset iptables")).toBe(
        'conntrack installed\nsocat installed\nipset installed\niptables installed\n',
      );
      expect(ssh(n, 'stat -c "%a %U" /etc/etcd/pki /etc/etcd/pki/server.key /etc/etcd/pki/peer.key /etc/etcd/pki/admin.key /var/lib/etcd')).toBe(
        '700 root\n600 root\n600 root\n600 root\n700 root\n',
      );
    }
  });

  it('the second run is up to date and restarts no etcd', () => {
    const before = mainPids();
    const plan = kubi(['plan', inventory, '--until', 'etcd', '--output', 'json']);
    expect(plan.code).toBe(0);
    const report = JSON.parse(plan.stdout) as { totalChanges: number; upToDate: boolean };
    expect(report.totalChanges).toBe(0);
    expect(report.upToDate).toBe(true);
    const up = kubi(['up', inventory, '--until', 'etcd']);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/up to date/);
    expect(mainPids()).toEqual(before);
  });

  it('a changed heartbeat restarts one member at a time while the others keep answering', () => {
    const before = mainPids();
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
    ssh(1, `cat > /root/kubi-poll.sh <<'EOF'\n${poller}\nEOF\nrm -f /tmp/kubi-stop-poll; for i in 1 2 3; do nohup bash /root/kubi-poll.sh $i https://10.89.0.1$i:2379 > /root/kubi-poll-$i.log 2>&1 < /dev/null & done; sleep 1`);
    let up: Run;
    try {
      up = kubi(['up', changed, '--until', 'etcd']);
    } finally {
      ssh(1, 'sleep 1; touch /tmp/kubi-stop-poll; sleep 1');
    }
    expect(up.code, up.stdout + up.stderr).toBe(0);

    // every member restarted, with the new setting
    const after = mainPids();
    after.forEach((pid, i) => expect(pid).not.toBe(before[i]));
    for (const n of [1, 2, 3]) expect(ssh(n, 'tr "\\0" "\\n" < /proc/$(systemctl show -p MainPID --value etcd)/environ | grep ^ETCD_HEARTBEAT')).toBe('ETCD_HEARTBEAT_INTERVAL=250\n');

    // one at a time: each member was back (active) before the next one stopped, in inventory order
    const windows = [1, 2, 3].map(restartWindow);
    for (let i = 1; i < 3; i++) expect(windows[i]!.exit).toBeGreaterThan(windows[i - 1]!.enter);

    // the cluster answered throughout: a poller only ever failed through the member being restarted
    const polls = [1, 2, 3].map((n) =>
      ssh(1, `cat /root/kubi-poll-${n}.log`)
        .trim()
        .split('\n')
        .map((l) => ({ t: Number(l.split(' ')[0]) * 1000, ok: l.endsWith(' ok') })),
    );
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
    const again = kubi(['plan', changed, '--until', 'etcd', '--output', 'json']);
    expect((JSON.parse(again.stdout) as { totalChanges: number }).totalChanges).toBe(0);
  });

  it('a member that cannot start fails the run naming host and step; once it can, the re-run converges', () => {
    const changed = writeInventory('lab-heartbeat.yaml', { heartbeatIntervalMs: 250, electionTimeoutMs: 2500 });
    // block etcd on node3: stopped, and every start fails before etcd runs
    ssh(3, 'mkdir -p /etc/systemd/system/etcd.service.d && printf "[Service]\\nExecStartPre=/bin/false\\n" > /etc/systemd/system/etcd.service.d/kubi-e2e-block.conf && systemctl daemon-reload && systemctl stop etcd');
    const failed = kubi(['up', changed, '--until', 'etcd']);
    expect(failed.code).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/failed: node3: etcd\.start: etcd keeps exiting/);

    ssh(3, 'rm -rf /etc/systemd/system/etcd.service.d && systemctl daemon-reload');
    const rerun = kubi(['up', changed, '--until', 'etcd']);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const health = JSON.parse(ssh(3, `${ETCDCTL('https://127.0.0.1:2379')} endpoint health --cluster -w json`)) as { health: boolean }[];
    expect(health.filter((h) => h.health)).toHaveLength(3);
    const third = kubi(['up', changed, '--until', 'etcd']);
    expect(third.stdout).toMatch(/up to date/);
  });
});
