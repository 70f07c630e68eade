/**
 * The Vagrantfile defines exactly the machines of inventories/vagrant.yaml. Vagrant itself cannot be
 * installed on the test machine (Debian 12's vagrant pulls libarchive-tools, whose pinned libarchive13
 * conflicts with the installed one), so the Vagrantfile is loaded by real Ruby with a stub
 * `Vagrant.configure` (test/lab/vagrant-machines.rb) that records the machines it defines.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';

const root = path.resolve(import.meta.dirname, '../..');
const stub = path.join(import.meta.dirname, 'vagrant-machines.rb');

interface Machine {
  name: string;
  hostname: string;
  ip: string;
  box: string;
  memory: Record<string, number>;
  provisioners: number;
}

function machines(vagrantfile: string): Machine[] {
  return JSON.parse(execFileSync('ruby', [stub, vagrantfile], { encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir() } })) as Machine[];
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kubi-vagrant-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('Vagrantfile', () => {
  it('inventories/vagrant.yaml is a valid inventory: 3 etcd+server, 1 agent, a VIP, 192.168.56.0/24', async () => {
    const inv = parseInventory(await readFile(path.join(root, 'inventories/vagrant.yaml'), 'utf8'), 'vagrant.yaml');
    expect(inv.hosts.filter((h) => h.roles.includes('etcd') && h.roles.includes('server'))).toHaveLength(3);
    expect(inv.hosts.filter((h) => h.roles.includes('agent'))).toHaveLength(1);
    expect(inv.endpoint.vip).toMatch(/^192\.168\.56\./);
    for (const h of inv.hosts) expect(h.address).toMatch(/^192\.168\.56\.\d+$/);
  });

  it('defines exactly the machines of the inventory (names, hostnames, addresses), on Debian 12', async () => {
    const inv = parseInventory(await readFile(path.join(root, 'inventories/vagrant.yaml'), 'utf8'), 'vagrant.yaml');
    const ms = machines(path.join(root, 'Vagrantfile'));
    expect(ms.map((m) => [m.name, m.hostname, m.ip])).toEqual(inv.hosts.map((h) => [h.name, h.name, h.address]));
    for (const m of ms) {
      expect(m.box).toBe('debian/bookworm64');
      expect(Object.keys(m.memory).sort()).toEqual(['libvirt', 'virtualbox']);
      expect(m.provisioners).toBe(1);
    }
    expect(ms.find((m) => m.name === 'node4')!.memory.virtualbox).toBeLessThan(ms[0]!.memory.virtualbox!);
  });

  it('follows the inventory when it changes (nothing is hard-coded in the Vagrantfile)', async () => {
    const text = await readFile(path.join(root, 'Vagrantfile'), 'utf8');
    expect(text).not.toMatch(/192\.168\.56\.\d+/);
    await mkdir(path.join(tmp, 'inventories'), { recursive: true });
    await copyFile(path.join(root, 'Vagrantfile'), path.join(tmp, 'Vagrantfile'));
    await writeFile(
      path.join(tmp, 'inventories/vagrant.yaml'),
      'cluster: {name: v}\nendpoint: {vip: 192.168.57.100}\nhosts:\n  - {name: a1, address: 192.168.57.5, roles: [etcd, server]}\n  - {name: b2, address: 192.168.57.6, roles: [agent]}\n',
    );
    const ms = machines(path.join(tmp, 'Vagrantfile'));
    expect(ms.map((m) => [m.name, m.ip])).toEqual([
      ['a1', '192.168.57.5'],
      ['b2', '192.168.57.6'],
    ]);
  });

  it('KUBI_VAGRANT_BOX picks another box (e.g. an arm64 one)', () => {
    const out = execFileSync('ruby', [stub, path.join(root, 'Vagrantfile')], { encoding: 'utf8', env: { ...process.env, KUBI_VAGRANT_BOX: 'example/debian12-arm64' } });
    expect((JSON.parse(out) as Machine[]).every((m) => m.box === 'example/debian12-arm64')).toBe(true);
  });
});
