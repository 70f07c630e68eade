/** loadInventory (the file side: checks before reading, path resolution, state dir) and the helpers. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InventoryError,
  MAX_INVENTORY_BYTES,
  effectiveSsh,
  hostsWithRole,
  loadInventory,
  parseInventory,
  resolveClusterDns,
} from '../../src/inventory/load.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-load-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loadError(file: string): Promise<InventoryError> {
  try {
    await loadInventory(file);
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return e as InventoryError;
  }
  throw new Error('expected an InventoryError');
}

describe('loadInventory', () => {
  it('loads the homelab example: absolute paths, state dir beside the inventory, ~ expanded', async () => {
    const loaded = await loadInventory('inventories/homelab.yaml');
    expect(loaded.path).toBe(path.join(ROOT, 'inventories/homelab.yaml'));
    expect(loaded.stateDir).toBe(path.join(ROOT, 'inventories/.kubi/homelab'));
    expect(loaded.inventory.cluster.stateDir).toBe(loaded.stateDir);
    expect(loaded.inventory.ssh.privateKey).toBe(path.join(os.homedir(), '.ssh/id_ed25519'));
    expect(loaded.inventory.artifacts.cacheDir).toBe(path.join(os.homedir(), '.cache/kubi-provision/artifacts'));
    expect(loaded.inventory.hosts.map((h) => h.name)).toEqual(['pi-1', 'pi-2', 'pi-3', 'worker-1', 'worker-2']);
  });

  it('resolves relative local paths against the inventory file, not the working directory', async () => {
    const sub = path.join(dir, 'site');
    mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'inv.yaml');
    writeFileSync(
      file,
      `cluster: {name: site, stateDir: state}
artifacts: {source: offline, dir: ../artifacts}
ssh: {privateKey: keys/id}
endpoint: {mode: none}
hosts:
  - {name: a, address: 10.1.0.1, roles: [etcd, server], ssh: {privateKey: /abs/key}}
  - {name: b, address: 10.1.0.2, roles: [agent], ssh: {privateKey: ./b.key}}
`,
    );
    const loaded = await loadInventory(path.relative(process.cwd(), file));
    expect(loaded.stateDir).toBe(path.join(sub, 'state'));
    expect(loaded.inventory.artifacts.dir).toBe(path.join(dir, 'artifacts'));
    expect(loaded.inventory.ssh.privateKey).toBe(path.join(sub, 'keys/id'));
    expect(loaded.inventory.hosts[0]!.ssh!.privateKey).toBe('/abs/key');
    expect(loaded.inventory.hosts[1]!.ssh!.privateKey).toBe(path.join(sub, 'b.key'));
  });

  it('refuses a missing file, a directory, a FIFO and a file over 1 MiB without reading it', async () => {
    expect((await loadError(path.join(dir, 'nope.yaml'))).issues[0]!.message).toBe('no such file');
    expect((await loadError(dir)).issues[0]!.message).toBe('is a directory, not an inventory file');
    const fifo = path.join(dir, 'fifo.yaml');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status === 0) expect((await loadError(fifo)).issues[0]!.message).toBe('is not a regular file');
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, 'a'.repeat(MAX_INVENTORY_BYTES + 1));
    const err = await loadError(big);
    expect(err.issues[0]).toMatchObject({ line: 0, col: 0, path: '' });
    expect(err.issues[0]!.message).toBe(`the file is too large (${MAX_INVENTORY_BYTES + 1} bytes; an inventory may have at most ${MAX_INVENTORY_BYTES} bytes)`);
    expect(err.exitCode).toBe(2);
  });

  it('labels issues with the file name as given', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'cluster: {name: x}\n');
    const err = await loadError(file);
    expect(err.issues.every((i) => i.file === file)).toBe(true);
  });
});

describe('helpers', () => {
  const inv = parseInventory(
    `cluster: {name: h}
network: {serviceCidr: 10.96.0.0/12}
endpoint: {vip: 192.168.1.10}
ssh: {user: pi, privateKey: ~/.ssh/k, connectTimeoutMs: 5000}
hosts:
  - {name: a, address: 192.168.1.11, roles: [etcd, server]}
  - {name: b, address: 192.168.1.12, roles: [etcd, server], ssh: {user: root, port: 2222}}
  - {name: c, address: 192.168.1.13, roles: [etcd, server], ssh: {sudo: false, agent: false, privateKey: keys/c}}
  - {name: d, address: 192.168.1.21, roles: [agent]}
`,
    'h.yaml',
  );

  it('hostsWithRole keeps inventory order', () => {
    expect(hostsWithRole(inv, 'etcd').map((h) => h.name)).toEqual(['a', 'b', 'c']);
    expect(hostsWithRole(inv, 'agent').map((h) => h.name)).toEqual(['d']);
  });

  it('resolveClusterDns: the 10th service address by default, else the written one', () => {
    expect(resolveClusterDns(inv)).toBe('10.96.0.10');
    expect(resolveClusterDns({ ...inv, network: { ...inv.network, clusterDns: '10.96.0.53' } })).toBe('10.96.0.53');
  });

  it('effectiveSsh merges defaults and per-host overrides key by key', () => {
    const home = '/home/u';
    const [a, b, c] = inv.hosts.map((h) => effectiveSsh(inv, h, { homeDir: home, baseDir: '/inv' }));
    expect(a).toEqual({
      user: 'pi',
      port: 22,
      privateKey: '/home/u/.ssh/k',
      agent: true,
      sudo: true,
      jumpHost: undefined,
      useSshConfig: false,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 300000,
    });
    expect(b).toMatchObject({ user: 'root', port: 2222, sudo: false, privateKey: '/home/u/.ssh/k' });
    expect(c).toMatchObject({ user: 'pi', sudo: false, agent: false, privateKey: '/inv/keys/c' });
  });

  it('effectiveSsh without options expands ~ with the real home and leaves relative paths alone', () => {
    expect(effectiveSsh(inv, inv.hosts[0]!).privateKey).toBe(path.join(os.homedir(), '.ssh/k'));
    expect(effectiveSsh(inv, inv.hosts[2]!).privateKey).toBe('keys/c');
  });
});
