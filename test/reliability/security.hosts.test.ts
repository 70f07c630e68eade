/**
 * Security on a 3-node lab (kubirelsec, 10.169.3.0/24), through the real CLI (issue 10):
 *  1. hostile inventory values (label, taint, name, data dir, interface, ssh user): `plan` and
 *     `up` exit 2 before connecting; the canary file the payloads would create exists on no node;
 *  2. a tampered and a truncated etcd tarball (checksum file untouched) in a copy of the lab's
 *     offline directory: `up` fails with the checksum error naming the file, etcd is not installed;
 *  3. secrets: while a fresh `up` runs to k3s.configure (the offline directory gets a stand-in k3s
 *     binary: the real one is not available offline), `ps -eo args` is sampled on every node (a
 *     sampler on the node, every 0.1 s) and locally; the cluster token, every etcd key and the SSH
 *     key appear in none of the samples, the terminal output, `plan` (text, json, runbook) or the
 *     run logs; state directory 0700, keys 0600 locally; every secret file the plan writes is
 *     0600 root on the nodes;
 *  4. after convergence, the tampered tarball changes nothing: /usr/local/bin/etcd stays the same;
 *  5. etcd refuses a client certificate from ANOTHER CA (even one with the cluster CA's name) on
 *     2379 and on the peer port 2380; the cluster's own certificates are accepted (control);
 *  6. a rebuilt node (new host key, `lab rebuild`): `up` stops before anything is sent (the run
 *     log shows no command at all), nothing reaches the node; `forget-host` lets it through.
 * `lab down` always runs in afterAll.
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labRebuild } from '../../src/lab/lab.js';
import { hostileValues } from './helpers.js';
import { checkStateDir, inventoryVariant, kubi, managedFiles, planJson, script, snapshot, ssh, startRelLab, type RelLab } from './lab-kit.js';

const execFileP = promisify(execFile);
const LAB = 'kubirelsec';
const SUBNET = '10.169.3.0/24';
const K3S_VERSION = 'v1.34.3+k3s1';
const CANARY = '/tmp/kubi-canary';

let work: string;
let lab: RelLab;
/** the lab inventory pointed at our own copy of the offline directory (with a stand-in k3s) */
let honest: string;
let tampered: string;
let truncated: string;
const found = { hostileTried: 0, leaks: 0, needles: 0, psSamplesLocal: 0, psSamplesNodes: 0 };

/** A copy of the lab's offline directory: hard links (fast), but files we change are replaced, never edited in place. */
function copyOffline(from: string, to: string): void {
  execFileSync('cp', ['-al', from, to]);
  rmSync(path.join(to, 'ready'), { force: true });
}

function etcdTarball(dir: string): string {
  const v = (parse(readFileSync(lab.inventory, 'utf8')) as { versions: { etcd: string } }).versions.etcd;
  return path.join(dir, 'etcd', v, `etcd-${v}-linux-amd64.tar.gz`);
}

/** Replace (not edit: the source is hard-linked) a file with new content. */
function replaceFile(file: string, content: Buffer): void {
  rmSync(file);
  writeFileSync(file, content);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-sec-'));
  lab = await startRelLab(LAB, SUBNET, work);
  const offline = (parse(readFileSync(lab.inventory, 'utf8')) as { artifacts: { dir: string } }).artifacts.dir;

  // honest copy + a stand-in k3s binary (answers --version, otherwise idles) with its checksum file
  const art = path.join(work, 'art');
  copyOffline(offline, art);
  const k3sDir = path.join(art, 'k3s', K3S_VERSION);
  mkdirSync(k3sDir, { recursive: true });
  const k3s = path.join(k3sDir, 'k3s');
  writeFileSync(k3s, '#!/bin/sh\n# stand-in k3s for the reliability tests\ncase "$1" in --version|-v|version) echo "k3s version v1.34.3+k3s1 (stand-in)";; *) exec sleep 2147483647;; esac\n');
  chmodSync(k3s, 0o755);
  const sum = execFileSync('sha256sum', [k3s], { encoding: 'utf8' }).split(' ')[0];
  writeFileSync(path.join(k3sDir, 'sha256sum-amd64.txt'), `${sum}  k3s\n`);
  honest = inventoryVariant(lab, 'honest', (inv) => (inv.artifacts.dir = art));

  // tampered: one byte of the etcd tarball flipped; truncated: its first half; checksums untouched
  const bad = path.join(work, 'art-tampered');
  copyOffline(art, bad);
  const tb = readFileSync(etcdTarball(bad));
  const mid = Math.floor(tb.length / 2);
  tb[mid] = tb[mid]! ^ 0xff;
  replaceFile(etcdTarball(bad), tb);
  tampered = inventoryVariant(lab, 'tampered', (inv) => (inv.artifacts.dir = bad));
  const cut = path.join(work, 'art-truncated');
  copyOffline(art, cut);
  replaceFile(etcdTarball(cut), readFileSync(etcdTarball(art)).subarray(0, 100_000));
  truncated = inventoryVariant(lab, 'truncated', (inv) => (inv.artifacts.dir = cut));
}, 900_000);

afterAll(async () => {
  await lab?.handle.down();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(
    `[reliability] security: ${found.hostileTried} hostile inventories refused; ${found.needles} secret strings searched in ` +
      `${found.psSamplesLocal} local and ${found.psSamplesNodes} node ps samples, output, plans and run logs: ${found.leaks} leaks`,
  );
}, 300_000);

async function canaryOnNodes(): Promise<string[]> {
  const out: string[] = [];
  for (const n of lab.nodes) {
    const r = await ssh(lab, n.name, `test -e ${CANARY} && echo present || echo absent`);
    if (r.stdout.trim() !== 'absent') out.push(n.name);
  }
  return out;
}

describe('security on lab nodes', () => {
  it('1. hostile inventory values: plan and up exit 2 before connecting; no canary on any node', async () => {
    const setters: Array<[string, (inv: Record<string, any>, v: string) => void]> = [
      ['label value', (inv, v) => (inv.hosts[0].labels = { 'example.com/x': v })],
      ['label key', (inv, v) => (inv.hosts[0].labels = { [v]: 'a' })],
      ['taint', (inv, v) => (inv.hosts[1].taints = [`k=${v}:NoSchedule`])],
      ['host name', (inv, v) => (inv.hosts[2].name = v)],
      ['etcd data dir', (inv, v) => (inv.etcd = { dataDir: `/var/lib/${v}` })],
      ['endpoint interface', (inv, v) => (inv.endpoint.interface = v)],
      ['ssh user', (inv, v) => (inv.hosts[1].ssh = { user: v, sudo: true })],
    ];
    // every payload in every field is tried through the CLI in hostile-inventory.test.ts; here the
    // four classic ones, on the lab, where the canary would appear on the nodes
    const values = hostileValues(CANARY).filter((v) => /^x(\$\(|`|;|\n)touch /.test(v));
    expect(values.length).toBe(4);
    for (const [what, set] of setters) {
      for (const [i, v] of values.entries()) {
        const file = inventoryVariant(lab, `hostile-${what.replace(/ /g, '-')}-${i}`, (inv) => set(inv, v));
        for (const cmd of ['plan', 'up']) {
          const r = await kubi(lab, [cmd, file], 60_000);
          expect(r.status, `${cmd} with a hostile ${what} ${JSON.stringify(v)}: ${r.stderr.slice(-500)}`).toBe(2);
          found.hostileTried++;
        }
      }
    }
    expect(await canaryOnNodes()).toEqual([]);
    expect(existsSync(CANARY)).toBe(false);
    // nothing connected: no host key was ever recorded, no run log written
    expect(existsSync(path.join(lab.stateDir, 'known_hosts'))).toBe(false);
    expect(existsSync(path.join(lab.stateDir, 'runs'))).toBe(false);
  }, 900_000);

  it('2. a tampered or truncated etcd tarball is refused with the checksum error naming it; nothing installed', async () => {
    for (const [inv, dir] of [
      [tampered, 'art-tampered'],
      [truncated, 'art-truncated'],
    ] as const) {
      const r = await kubi(lab, ['up', inv, '--until', 'etcd'], 600_000);
      expect(r.status, r.stderr.slice(-2000)).toBe(1);
      const out = r.stdout + r.stderr;
      expect(out).toContain(etcdTarball(path.join(work, dir)));
      expect(out).toMatch(/sha256 of .* is [0-9a-f]{64}, but SHA256SUMS says [0-9a-f]{64}/);
      expect(out).toMatch(/artifacts\.etcd/);
      for (const n of lab.nodes) {
        const s = await snapshot(lab, n.name, ['/usr/local/bin/etcd', '/usr/local/bin/etcdctl']);
        expect(s.files.get('/usr/local/bin/etcd')!.size, `${n.name}: etcd was installed from a tampered tarball`).toBeNull();
        expect(s.files.get('/usr/local/bin/etcdctl')!.size).toBeNull();
        expect(s.temps, `${n.name}: temp files`).toEqual([]);
      }
    }
  }, 900_000);

  it('3. secrets never reach argv (nodes and local), output, plans or run logs; modes are tight', async () => {
    const fresh = await planJson(lab, honest, ['--until', 'k3s.configure']);
    const secretFiles = managedFiles(fresh).filter((f) => f.secret);
    expect(secretFiles.length).toBeGreaterThanOrEqual(3 * 5);

    // samplers: on each node (detached from the ssh session), and here
    const pids = new Map<string, string>();
    for (const n of lab.nodes) {
      const r = await script(
        lab,
        n.name,
        "rm -f /root/kubi-ps-samples\nsetsid sh -c 'while :; do ps -eo args; echo @@sample@@; sleep 0.1; done' >/root/kubi-ps-samples 2>&1 </dev/null &\necho $!\n",
      );
      pids.set(n.name, r.stdout.trim());
    }
    let sampling = true;
    const local: string[] = [];
    const localSampler = (async () => {
      while (sampling) {
        local.push((await execFileP('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 })).stdout);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // controls: a 2-second process with a marker in its argv, on node1 and here, must be caught
    const marker = `kubi-control-${Date.now().toString(36)}`;
    await ssh(lab, 'node1', `setsid sh -c 'sleep 2' ${marker} >/dev/null 2>&1 </dev/null &`);
    const localControl = execFileP('sh', ['-c', 'sleep 2', marker]);
    const up = await kubi(lab, ['up', honest, '--until', 'k3s.configure'], 900_000);
    await localControl;
    // plan output with secret files in it: remove two of them on node1 first
    await ssh(lab, 'node1', 'rm -f /etc/rancher/k3s/token /etc/etcd/pki/server.key');
    const runbook = path.join(work, 'runbook.md');
    const planText = await kubi(lab, ['plan', honest, '--until', 'k3s.configure', '--runbook', runbook], 600_000);
    const planJsonOut = await kubi(lab, ['plan', honest, '--until', 'k3s.configure', '--output', 'json'], 600_000);
    const again = await kubi(lab, ['up', honest, '--until', 'k3s.configure'], 900_000);
    sampling = false;
    await localSampler;
    expect(up.status, up.stderr.slice(-3000)).toBe(0);
    expect(planText.status, planText.stderr.slice(-2000)).toBe(0);
    expect(planText.stdout).toMatch(/\/etc\/rancher\/k3s\/token/);
    expect(planJsonOut.status).toBe(0);
    expect(again.status, again.stderr.slice(-2000)).toBe(0);

    const nodeSamples = new Map<string, string>();
    for (const n of lab.nodes) {
      await ssh(lab, n.name, `kill ${pids.get(n.name)} || true`);
      nodeSamples.set(n.name, (await ssh(lab, n.name, 'cat /root/kubi-ps-samples')).stdout);
    }
    found.psSamplesLocal = local.length;
    for (const s of nodeSamples.values()) found.psSamplesNodes += s.split('@@sample@@').length - 1;
    // the samplers saw the run: the tool's remote programs on every node, the CLI locally
    for (const [node, s] of nodeSamples) expect(s, `${node}: the sampler saw none of the tool's commands`).toMatch(/kubi-put|bash -c exec bash|sha256sum/);
    expect(local.join('\n')).toMatch(/kubi-provision\.js up/);
    expect(nodeSamples.get('node1'), 'the node sampler misses a 2-second process').toContain(marker);
    expect(local.join('\n'), 'the local sampler misses a 2-second process').toContain(marker);

    // the secrets
    const needles = new Map<string, string>();
    const token = readFileSync(path.join(lab.stateDir, 'k3s-token'), 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    needles.set(token, 'cluster token');
    const pemNeedles = (file: string, label: string) => {
      const body = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'));
      for (const l of body) if (l.length >= 16) needles.set(l, label);
      needles.set(body.join(''), label);
    };
    for (const f of readdirSync(path.join(lab.stateDir, 'pki')).filter((f) => f.endsWith('.key'))) pemNeedles(path.join(lab.stateDir, 'pki', f), `etcd key ${f}`);
    pemNeedles(lab.handle.keyPath, 'ssh key');
    found.needles = needles.size;

    const haystacks = new Map<string, string>([
      ['up output', up.stdout + up.stderr],
      ['second up output', again.stdout + again.stderr],
      ['plan text', planText.stdout + planText.stderr],
      ['plan json', planJsonOut.stdout],
      ['plan runbook', readFileSync(runbook, 'utf8')],
      ['local ps samples', local.join('\n')],
    ]);
    for (const f of readdirSync(path.join(lab.stateDir, 'runs'))) haystacks.set(`run log ${f}`, readFileSync(path.join(lab.stateDir, 'runs', f), 'utf8'));
    for (const [node, s] of nodeSamples) haystacks.set(`ps samples on ${node}`, s);
    const leaks: string[] = [];
    for (const [where, text] of haystacks) for (const [needle, label] of needles) if (text.includes(needle)) leaks.push(`${label} in ${where}`);
    found.leaks = leaks.length;
    expect(leaks).toEqual([]);
    // the plan masks secret content where it shows the file
    expect(planText.stdout).toMatch(/redacted|secret/i);

    // modes: locally
    expect(checkStateDir(lab.stateDir).problems).toEqual([]);
    expect(statSync(path.join(lab.stateDir, 'k3s-token')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(lab.stateDir, 'runs')).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(path.join(lab.stateDir, 'runs'))) expect(statSync(path.join(lab.stateDir, 'runs', f)).mode & 0o777, f).toBe(0o600);
    // modes: on the nodes, every secret file the plan writes, and the directories holding keys
    for (const n of lab.nodes) {
      const mine = secretFiles.filter((f) => f.host === n.name).map((f) => f.path);
      const s = await snapshot(lab, n.name, mine, () => false);
      for (const p of mine) {
        const st = s.files.get(p)!;
        expect(st.size, `${n.name}:${p} missing`).not.toBeNull();
        expect(st.mode! & 0o077, `${n.name}:${p} is ${st.mode!.toString(8)}`).toBe(0);
        expect(st.owner, `${n.name}:${p}`).toBe('root:root');
      }
      const dirs = (await ssh(lab, n.name, 'stat -c "%n %a %U" /etc/etcd/pki /etc/rancher/k3s/etcd')).stdout.trim().split('\n');
      expect(dirs).toEqual(['/etc/etcd/pki 700 root', '/etc/rancher/k3s/etcd 700 root']);
    }
  }, 1_800_000);

  it('4. after convergence a tampered tarball changes nothing on the nodes', async () => {
    const before = new Map<string, string | null>();
    for (const n of lab.nodes) before.set(n.name, (await snapshot(lab, n.name, ['/usr/local/bin/etcd'])).files.get('/usr/local/bin/etcd')!.sha256);
    const r = await kubi(lab, ['up', tampered, '--until', 'etcd'], 600_000);
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain(etcdTarball(path.join(work, 'art-tampered')));
    for (const n of lab.nodes) {
      const s = await snapshot(lab, n.name, ['/usr/local/bin/etcd']);
      expect(s.files.get('/usr/local/bin/etcd')!.sha256, `${n.name}: etcd changed`).toBe(before.get(n.name));
      expect(before.get(n.name)).toMatch(/^[0-9a-f]{64}$/);
    }
  }, 900_000);

  it('5. etcd refuses certificates from another CA on 2379 and 2380; accepts its own (control)', async () => {
    // a foreign CA with the SAME subject as the cluster CA, and a client certificate it signs
    const dir = path.join(work, 'foreign');
    mkdirSync(dir);
    const caSubject = new X509Certificate(readFileSync(path.join(lab.stateDir, 'pki', 'etcd-ca.crt'))).subject;
    const subj = '/' + caSubject.split('\n').join('/');
    const node1 = lab.address('node1');
    const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', subj]);
    o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=root']);
    writeFileSync(path.join(dir, 'ext.cnf'), `extendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=IP:${node1},DNS:node1\n`);
    o(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'ext.cnf']);
    await ssh(lab, 'node1', 'mkdir -p /root/foreign && cat > /root/foreign/client.crt', { input: readFileSync(path.join(dir, 'client.crt'), 'utf8') });
    await ssh(lab, 'node1', 'umask 077 && cat > /root/foreign/client.key', { input: readFileSync(path.join(dir, 'client.key'), 'utf8') });

    const curl = (url: string, cert: string | null) =>
      ssh(
        lab,
        'node1',
        `curl -sS --http1.1 --max-time 8 -o /dev/null -w '%{http_code}' --cacert /etc/etcd/pki/ca.crt ${cert ? `--cert ${cert}.crt --key ${cert}.key` : ''} ${url}; echo " exit=$?"`,
        { allowFailure: true },
      );
    const etcdctl = (endpoint: string, cert: string) =>
      ssh(
        lab,
        'node1',
        `env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 etcdctl --endpoints=${endpoint} --cacert=/etc/etcd/pki/ca.crt --cert=${cert}.crt --key=${cert}.key --dial-timeout=3s --command-timeout=5s endpoint health; echo "exit=$?"`,
        { allowFailure: true },
      );
    /** the control: the cluster's own certificate is accepted (retried while a member may still be settling) */
    const accepted = async (url: string, cert: string) => {
      let last = '';
      for (let i = 0; i < 15; i++) {
        const r = await curl(url, cert);
        last = `${r.stdout.trim()} ${r.stderr.trim()}`;
        if (/^200 exit=0/.test(r.stdout)) return;
        await new Promise((res) => setTimeout(res, 2000));
      }
      expect.fail(`${url} with ${cert}: ${last}`);
    };
    const results: string[] = [];
    for (const peer of ['node2', 'node3']) {
      const a = lab.address(peer);
      // controls: the cluster's own certificates pass (so a refusal below is the CA check, not a broken test)
      await accepted(`https://${a}:2379/health`, '/etc/etcd/pki/admin');
      await accepted(`https://${a}:2380/members`, '/etc/etcd/pki/peer');
      const ok = await etcdctl(`https://${a}:2379`, '/etc/etcd/pki/admin');
      expect(ok.stderr + ok.stdout).toMatch(/is healthy/);
      expect(ok.stdout).toMatch(/exit=0$/m);
      // foreign certificate: refused in the TLS handshake on both ports
      for (const url of [`https://${a}:2379/health`, `https://${a}:2380/members`, `https://${a}:2379/v3/kv/range`]) {
        const r = await curl(url, '/root/foreign/client');
        expect(r.stdout, `${url} with a foreign certificate: ${r.stdout} ${r.stderr}`).not.toMatch(/^200 /);
        expect(r.stdout).not.toMatch(/exit=0$/);
        results.push(`${url}: ${r.stderr.trim().split('\n').pop()}`);
      }
      // and no certificate at all
      for (const url of [`https://${a}:2379/health`, `https://${a}:2380/members`]) {
        expect((await curl(url, null)).stdout, `${url} without a certificate`).not.toMatch(/exit=0$/);
      }
      const e = await etcdctl(`https://${a}:2379`, '/root/foreign/client');
      expect(e.stdout + e.stderr).toMatch(/unhealthy|failed|error|deadline/i);
      expect(e.stdout).not.toMatch(/exit=0$/);
    }
    console.log(`[reliability] foreign CA refusals:\n  ${results.join('\n  ')}`);
  }, 600_000);

  it('6. a rebuilt node (new host key): up stops before anything is sent; forget-host lets it through', async () => {
    const runs = path.join(lab.stateDir, 'runs');
    const before = new Set(readdirSync(runs));
    await labRebuild('node3', { namespace: lab.namespace, stateDir: lab.handle.stateDir }, () => undefined);
    const r = await kubi(lab, ['up', honest, '--until', 'etcd'], 300_000);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/node3/);
    expect(r.stderr).toMatch(/host key/i);
    const newLogs = readdirSync(runs).filter((f) => !before.has(f));
    expect(newLogs.length).toBe(1);
    const log = readFileSync(path.join(runs, newLogs[0]!), 'utf8');
    // not one command reached any host (the mismatch stops the run at connect, before facts)
    expect(log).not.toMatch(/ (read-only|mutating) exit=/);
    expect(log).not.toMatch(/ node3 (read-only|mutating)/);
    // the rebuilt node got nothing
    const s = await snapshot(lab, 'node3', ['/usr/local/bin/etcd', '/etc/etcd/etcd.env', '/etc/modules-load.d/kubi.conf']);
    for (const f of s.files.values()) expect(f.size, `node3:${f.path} arrived despite the changed host key`).toBeNull();
    // the way forward: forget the old key, then the node is trusted again (recorded anew)
    const forget = await kubi(lab, ['forget-host', honest, 'node3'], 60_000);
    expect(forget.status, forget.stderr).toBe(0);
    const p = await kubi(lab, ['plan', honest, '--only', 'host.preflight'], 300_000);
    expect(p.status, p.stderr.slice(-2000)).toBe(0);
    expect(p.stderr).toMatch(/recorded the host key of node3/);
  }, 600_000);
});
