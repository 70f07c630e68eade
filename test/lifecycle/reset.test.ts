/**
 * The reset steps' plans (pure), and the shell that empties data directories and moves etcd data
 * aside, run for real with bash on temporary directories - including a real mount point (a tmpfs
 * in a private mount namespace made with `unshare -m`, gone when the command ends).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Inventory } from '../../src/inventory/schema.js';
import type { Observation } from '../../src/steps/lib/index.js';
import { moveDataAsideShell } from '../../src/steps/lifecycle/data-dir.js';
import { emptyDirScript, parseNetwork, planResetFiles, planResetNetwork, planResetServices, resetDataDirs, resetPaths } from '../../src/steps/lifecycle/reset.js';

const inv = Inventory.parse({ cluster: { name: 'lab' }, endpoint: { mode: 'keepalived', vip: '10.0.0.100' }, hosts: [{ name: 'node1', address: '10.0.0.11', roles: ['etcd', 'server'] }] });
const unit = (u: string, enabled: string, active: string) => [u, { unit: u, enabled, active }] as const;

describe('reset.services plan', () => {
  it('stops running units in dependency order, disables enabled ones, skips absent ones; shims and mounts', () => {
    const units: Observation['units'] = new Map([
      unit('etcd.service', 'enabled', 'active'),
      unit('containerd.service', 'enabled', 'active'),
      unit('k3s.service', 'not-found', 'inactive'),
      unit('keepalived.service', 'disabled', 'failed'),
      unit('kubi-pod-routes.service', 'enabled', 'inactive'),
    ]);
    const changes = planResetServices({ units, shims: [4242], mounts: ['/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs', '/var/lib/kubelet/pods/x/volumes/y'] });
    expect(changes.map((c) => (c.kind === 'command' ? c.argv.join(' ') : c.kind === 'script' ? c.title : c.kind))).toEqual([
      'systemctl disable kubi-pod-routes.service',
      'systemctl stop containerd.service',
      'systemctl disable containerd.service',
      'systemctl stop etcd.service',
      'systemctl disable etcd.service',
      'stop 1 leftover container shim process',
      'unmount 2 leftover container mounts',
    ]);
    const after: Observation['units'] = new Map([unit('etcd.service', 'disabled', 'inactive'), unit('containerd.service', 'disabled', 'inactive')]);
    expect(planResetServices({ units: after, shims: [], mounts: [] })).toEqual([]);
  });
});

describe('reset.network plan', () => {
  it('parses the probe and removes routes, the VIP, netns, veths before the bridge, iptables rules', () => {
    const out = [
      '\n@@kubi:veths@@\nveth1a2b\n',
      '\n@@kubi:links@@\nlo\neth0\ncni0\nveth1a2b\n',
      '\n@@kubi:routes@@\n10.42.1.0/24\n10.42.2.0/24\n',
      '\n@@kubi:vips@@\n10.0.0.100/24 eth0\n',
      '\n@@kubi:netns@@\ncni-1234\n',
      '\n@@kubi:iptables@@\n7\n',
    ].join('');
    const o = parseNetwork(out);
    expect(o).toEqual({ links: ['veth1a2b', 'cni0'], routes: ['10.42.1.0/24', '10.42.2.0/24'], vips: [{ cidr: '10.0.0.100/24', dev: 'eth0' }], netns: ['cni-1234'], iptablesRules: 7 });
    expect(planResetNetwork(o).map((c) => (c.kind === 'command' ? c.argv.join(' ') : c.kind === 'script' ? c.title : ''))).toEqual([
      'ip route del 10.42.1.0/24 proto 77',
      'ip route del 10.42.2.0/24 proto 77',
      'ip addr del 10.0.0.100/24 dev eth0',
      'ip netns delete cni-1234',
      'ip link delete veth1a2b',
      'ip link delete cni0',
      'remove 7 KUBE-/CNI-/flannel iptables rules',
    ]);
    expect(planResetNetwork(parseNetwork('\n@@kubi:links@@\nlo\neth0\n\n@@kubi:iptables@@\n0\n'))).toEqual([]);
  });
});

describe('reset.files plan', () => {
  it('deletes what exists, empties data directories, reloads systemd after removing units', () => {
    const paths = resetPaths(inv);
    const files = new Map(paths.map((p) => [p, { path: p, type: (p === '/etc/etcd' || p === '/etc/systemd/system/etcd.service' ? (p === '/etc/etcd' ? 'dir' : 'file') : 'missing') as 'dir' | 'file' | 'missing' }]));
    const changes = planResetFiles({ observation: { files, units: new Map() }, movedAside: ['/var/lib/etcd.replaced-20250101T000000Z'], dataDirs: ['/var/lib/etcd'] }, paths);
    expect(changes).toEqual([
      { kind: 'delete', path: '/etc/systemd/system/etcd.service', recursive: true },
      { kind: 'delete', path: '/etc/etcd', recursive: true },
      { kind: 'delete', path: '/var/lib/etcd.replaced-20250101T000000Z', recursive: true },
      { kind: 'script', title: 'empty and remove /var/lib/etcd (a mount point stays, empty)', script: emptyDirScript('/var/lib/etcd') },
      { kind: 'service', unit: 'etcd.service', action: 'daemon-reload' },
    ]);
    expect(resetDataDirs(inv)).toContain('/var/lib/etcd');
    expect(paths).toEqual(expect.arrayContaining(['/usr/local/bin/etcd', '/etc/rancher', '/etc/cni/net.d/10-kubi-bridge.conflist', '/opt/cni/bin', '/var/lib/kubi-provision']));
  });
});

describe('data directory shell, for real', () => {
  let tmp = '';
  afterEach(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  const bash = (script: string) => execFileSync('bash', ['-c', script], { encoding: 'utf8' });

  it('moves the contents aside (kept), leaves an empty 0700 data directory; nothing to move: nothing printed', () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-datadir-'));
    const d = path.join(tmp, 'etcd');
    mkdirSync(path.join(d, 'member', 'snap'), { recursive: true });
    writeFileSync(path.join(d, 'member', 'snap', 'db'), 'data');
    expect(bash(moveDataAsideShell(d, `${d}.replaced-x`)).trim()).toBe('moved');
    expect(readdirSync(d)).toEqual([]);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(`${d}.replaced-x`, 'member', 'snap', 'db'))).toBe(true);
    expect(bash(moveDataAsideShell(d, `${d}.replaced-y`)).trim()).toBe('');
    expect(existsSync(`${d}.replaced-y`)).toBe(false);
  });

  it('empties and removes a plain directory; a mount point is emptied and stays', () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-datadir-'));
    const plain = path.join(tmp, 'plain');
    mkdirSync(path.join(plain, 'sub'), { recursive: true });
    writeFileSync(path.join(plain, 'sub', 'f'), 'x');
    bash(emptyDirScript(plain));
    expect(existsSync(plain)).toBe(false);

    const mnt = path.join(tmp, 'mnt');
    mkdirSync(mnt);
    // a private mount namespace: the tmpfs exists only for this one command
    const out = execFileSync(
      'unshare',
      ['-m', '--propagation', 'private', 'bash', '-c', `mount -t tmpfs kubi-test ${mnt} && mkdir ${mnt}/member && touch ${mnt}/member/db && ${emptyDirScript(mnt).replace(/\n/g, ' ; ')} ; mountpoint -q ${mnt} && echo still-mounted; ls -A ${mnt} | wc -l`],
      { encoding: 'utf8' },
    );
    expect(out.trim().split('\n')).toEqual(['still-mounted', '0']);
  });
});
