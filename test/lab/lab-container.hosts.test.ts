/**
 * The container lab, for real: `lab up --nodes 3` (through the CLI's lab command), commands on every
 * node through the tool's own transport (connectHosts), packages from the lab's local repository,
 * the offline artifacts layout, `lab rebuild` (new host key, refused by the transport's known_hosts
 * check; new address written into the inventory), and `lab down` leaving nothing behind.
 * Own namespace and subnet, so it never collides with a developer's lab (kubilab, 10.77.0.0/24).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { layoutFiles, type LabVersions } from '../../src/lab/artifacts.js';
import { canConnect } from '../../src/lab/http-server.js';
import { labDown } from '../../src/lab/lab.js';
import { LocalRunner } from '../../src/lab/exec.js';
import { hostKeyFingerprint } from '../../src/lab/ssh.js';
import { readState } from '../../src/lab/state.js';
import { connectHosts, forgetHost, targetsFromInventory, type HostKeyEvent, type HostPool } from '../../src/transport/index.js';
import { leftovers, recordedPids } from '../harness/lab.js';

const NS = 'kubilabct';
const SUBNET = '10.79.0.0/24';
const STATE_DIR = `/var/lib/kubi-provision/lab/${NS}`;
const CLI = path.join(import.meta.dirname, 'lab-cli.mjs');

let tmp: string;
let inventoryPath: string;
let clusterState: string;
const pids = new Set<number>();
const runner = new LocalRunner(null);

function lab(...args: string[]) {
  // --name goes right after the subcommand: everything after `--` belongs to `lab ssh`'s command
  const r = spawnSync(process.execPath, [CLI, 'lab', args[0]!, '--name', NS, ...args.slice(1)], { encoding: 'utf8', timeout: 900_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function loadInv(): Inventory {
  return parseInventory(readFileSync(inventoryPath, 'utf8'), inventoryPath);
}

function rememberPids() {
  for (const p of recordedPids(readState(STATE_DIR))) pids.add(p);
}

async function connect(inv: Inventory, names?: string[], events?: HostKeyEvent[]): Promise<HostPool> {
  const targets = targetsFromInventory(inv, { baseDir: path.dirname(inventoryPath) }).filter((t) => !names || names.includes(t.name));
  return connectHosts(targets, { stateDir: clusterState, ...(events ? { onHostKey: (e: HostKeyEvent) => void events.push(e) } : {}) });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-ct-'));
  inventoryPath = path.join(tmp, 'inventories', 'lab.yaml');
  clusterState = path.join(tmp, 'inventories', '.kubi', 'lab');
  const up = lab('up', '--nodes', '3', '--subnet', SUBNET, '--inventory', inventoryPath);
  rememberPids();
  if (up.code !== 0) throw new Error(`lab up failed (exit ${up.code}):\n${up.stdout}\n${up.stderr}`);
});

afterAll(async () => {
  rememberPids();
  await labDown({ namespace: NS });
  await rm(tmp, { recursive: true, force: true });
});

describe('container lab', () => {
  it('lab up --nodes 3 writes a valid inventory, and every node answers through the tool transport', async () => {
    const inv = loadInv();
    expect(inv.cluster.name).toBe('lab');
    expect(inv.hosts.map((h) => [h.name, h.address])).toEqual([
      ['node1', '10.79.0.11'],
      ['node2', '10.79.0.12'],
      ['node3', '10.79.0.13'],
    ]);
    expect(inv.endpoint.vip).toBe('10.79.0.100');
    const events: HostKeyEvent[] = [];
    const pool = await connect(inv, undefined, events);
    try {
      const ids = new Set<string>();
      for (const h of inv.hosts) {
        const host = pool.get(h.name);
        expect((await host.exec(['hostname'])).stdout.trim()).toBe(h.name);
        expect((await host.exec(['id', '-u'])).stdout.trim()).toBe('0');
        ids.add((await host.exec(['cat', '/etc/machine-id'])).stdout.trim());
        expect((await host.exec(['systemctl', 'is-system-running'], { allowFailure: true })).stdout.trim()).toMatch(/^(running|starting)$/);
      }
      expect(ids.size).toBe(3);
      // node2 logs in as the unprivileged kubi user and gets root through sudo
      const node2 = pool.get('node2');
      expect(node2.isRoot).toBe(false);
      expect((await node2.exec(['whoami'], { sudo: false })).stdout.trim()).toBe('kubi');
      expect((await node2.exec(['whoami'], { sudo: true })).stdout.trim()).toBe('root');
      // first contact recorded one ed25519 host key per node
      expect(events.map((e) => [e.kind, e.host, e.keyType]).sort()).toEqual([
        ['recorded', 'node1', 'ssh-ed25519'],
        ['recorded', 'node2', 'ssh-ed25519'],
        ['recorded', 'node3', 'ssh-ed25519'],
      ]);
    } finally {
      pool.closeAll();
    }
  });

  it('nodes install the tool packages from the lab repository and reach nothing outside the lab subnet', async () => {
    const pool = await connect(loadInv(), ['node1']);
    try {
      const node1 = pool.get('node1');
      expect((await node1.exec(['cat', '/etc/apt/sources.list'])).stdout).toBe('deb [trusted=yes] http://10.79.0.1:8080/ ./\n');
      expect((await node1.exec(['sh', '-c', 'dpkg-query -W keepalived 2>&1 || true'])).stdout).toMatch(/no packages found/i);
      await node1.script('set -e\nexport DEBIAN_FRONTEND=noninteractive\napt-get update -q\napt-get install -y -q --no-install-recommends keepalived conntrack socat ipset ebtables\n', { timeoutMs: 180_000 });
      const q = await node1.exec(['dpkg-query', '-W', '-f', '${Package} ${Status}\\n', 'keepalived', 'conntrack', 'socat', 'ipset', 'ebtables']);
      expect(q.stdout.trim().split('\n').sort()).toEqual(['conntrack install ok installed', 'ebtables install ok installed', 'ipset install ok installed', 'keepalived install ok installed', 'socat install ok installed']);
      // routes: the lab subnet and a default route to the bridge, which forwards nothing
      const routes = (await node1.exec(['ip', '-4', 'route'])).stdout;
      expect(routes).toContain('default via 10.79.0.1 dev eth0');
      const ping = await node1.exec(['ping', '-c', '1', '-W', '1', '192.0.2.1'], { allowFailure: true });
      expect(ping.exitCode).not.toBe(0);
    } finally {
      pool.closeAll();
    }
  });

  it('the offline artifacts directory has exactly the upstream layout, with valid checksums', async () => {
    const inv = loadInv();
    const dir = inv.artifacts.dir!;
    const versions = JSON.parse(readFileSync(path.join(dir, 'versions.json'), 'utf8')).versions as LabVersions;
    expect(versions).toMatchObject({ etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1' });
    expect(inv.versions).toMatchObject({ etcd: versions.etcd, containerd: versions.containerd, runc: versions.runc, cni: versions.cni });
    for (const f of layoutFiles(versions, 'amd64')) expect(existsSync(path.join(dir, f)), f).toBe(true);
    const check = (sub: string, file: string) => execFileSync('sha256sum', ['-c', file], { cwd: path.join(dir, sub), encoding: 'utf8' });
    expect(check(`etcd/${versions.etcd}`, 'SHA256SUMS')).toContain(': OK');
    expect(check(`containerd/${versions.containerd}`, `containerd-${versions.containerd}-linux-amd64.tar.gz.sha256sum`)).toContain(': OK');
    expect(check(`runc/${versions.runc}`, 'runc.sha256sum')).toContain('runc.amd64: OK');
    expect(check(`cni/${versions.cni}`, `cni-plugins-linux-amd64-${versions.cni}.tgz.sha256`)).toContain(': OK');
    const list = (f: string) => execFileSync('tar', ['-tzf', path.join(dir, f)], { encoding: 'utf8' }).split('\n');
    expect(list(`etcd/${versions.etcd}/etcd-${versions.etcd}-linux-amd64.tar.gz`)).toEqual(expect.arrayContaining([`etcd-${versions.etcd}-linux-amd64/etcd`, `etcd-${versions.etcd}-linux-amd64/etcdctl`]));
    expect(list(`containerd/${versions.containerd}/containerd-${versions.containerd}-linux-amd64.tar.gz`)).toEqual(expect.arrayContaining(['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr']));
    expect(list(`cni/${versions.cni}/cni-plugins-linux-amd64-${versions.cni}.tgz`)).toEqual(expect.arrayContaining(['./bridge', './host-local', './loopback', './portmap', './bandwidth', './firewall', './tuning']));
    const index = JSON.parse(execFileSync('tar', ['-xOf', path.join(dir, 'images/busybox-oci.tar'), 'index.json'], { encoding: 'utf8' }));
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe('docker.io/kubi/busybox:latest');
    // the etcd binary from the bundle really runs (Debian builds link glibc only)
    const etcdVersion = execFileSync('sh', ['-c', `tar -xzOf ${path.join(dir, `etcd/${versions.etcd}/etcd-${versions.etcd}-linux-amd64.tar.gz`)} etcd-${versions.etcd}-linux-amd64/etcd > ${tmp}/etcd && chmod +x ${tmp}/etcd && ${tmp}/etcd --version`], { encoding: 'utf8' });
    expect(etcdVersion).toContain('etcd Version: 3.4.23');
  });

  it('lab status and lab ssh', () => {
    const st = lab('status', '--json');
    expect(st.code).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s.nodes.map((n: { name: string; running: boolean; ssh: boolean }) => [n.name, n.running, n.ssh])).toEqual([
      ['node1', true, true],
      ['node2', true, true],
      ['node3', true, true],
    ]);
    expect(s.repoServer.running).toBe(true);
    const ssh = lab('ssh', 'node3', '--', 'sh', '-c', 'echo $(hostname) $(id -un)');
    expect(ssh.code).toBe(0);
    expect(ssh.stdout.trim()).toBe('node3 root');
    const fail = lab('ssh', 'node3', '--', 'sh', '-c', 'exit 7');
    expect(fail.code).toBe(7);
    const unknown = lab('ssh', 'node9', '--', 'true');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no node node9');
  });

  it('lab rebuild gives a node a new host key and machine-id; the transport refuses the changed key until it is forgotten', async () => {
    const inv = loadInv();
    const before = await hostKeyFingerprint(runner, '10.79.0.12');
    const idBefore = execFileSync(process.execPath, [CLI, 'lab', 'ssh', 'node2', '--name', NS, '--', 'cat', '/etc/machine-id'], { encoding: 'utf8' }).trim();
    const r = lab('rebuild', 'node2');
    rememberPids();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('node2 rebuilt: 10.79.0.12');
    const after = await hostKeyFingerprint(runner, '10.79.0.12');
    expect(after).toMatch(/^SHA256:/);
    expect(after).not.toBe(before);

    // the known_hosts recorded in the first test now refuses node2, and names both fingerprints
    const refused = await connect(inv, ['node2']).then(
      (p) => {
        p.closeAll();
        return null;
      },
      (e: unknown) => e as { code: string; message: string },
    );
    expect(refused?.code).toBe('host-key-mismatch');
    expect(refused?.message).toContain(after);

    await forgetHost(clusterState, 'node2');
    const pool = await connect(inv, ['node2']);
    try {
      const node2 = pool.get('node2');
      expect((await node2.exec(['hostname'])).stdout.trim()).toBe('node2');
      const idAfter = (await node2.exec(['cat', '/etc/machine-id'])).stdout.trim();
      expect(idAfter).toMatch(/^[0-9a-f]{32}$/);
      expect(idAfter).not.toBe(idBefore);
      // a fresh OS: nothing installed by an earlier test survives (node2 had nothing; check the layer is new)
      expect((await node2.exec(['test', '-e', '/var/lib/dpkg/info/keepalived.list'], { allowFailure: true })).exitCode).not.toBe(0);
    } finally {
      pool.closeAll();
    }
  });

  it('lab rebuild --new-address moves the node and updates the inventory in place', async () => {
    const r = lab('rebuild', 'node3', '--new-address');
    rememberPids();
    expect(r.code, r.stderr).toBe(0);
    const inv = loadInv();
    expect(inv.hosts.map((h) => [h.name, h.address])).toEqual([
      ['node1', '10.79.0.11'],
      ['node2', '10.79.0.12'],
      ['node3', '10.79.0.14'],
    ]);
    expect(await canConnect('10.79.0.13', 22, 1000)).toBe(false);
    await forgetHost(clusterState, 'node3');
    const pool = await connect(inv, ['node3']);
    try {
      const out = (await pool.get('node3').exec(['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout;
      expect(out).toContain('10.79.0.14/24');
    } finally {
      pool.closeAll();
    }
  });

  it('lab down removes every container, interface, namespace, process and mount; a second down is a no-op', () => {
    rememberPids();
    expect(pids.size).toBeGreaterThanOrEqual(7); // 3 inits + 3 monitors + the repo server
    const down = lab('down');
    expect(down.code, down.stderr).toBe(0);
    expect(leftovers(NS, STATE_DIR, [...pids], '10.79.0.1')).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`\\b${NS}\\b`));
    expect(existsSync(inventoryPath)).toBe(false);
    const again = lab('down');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was not running');
  });
});
