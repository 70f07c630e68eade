/** `kubi-provision validate` on the example inventories and the valid fixtures: the real bin, exit 0, a summary. */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, stackLines } from './run-cli.js';

describe('validate on valid inventories', () => {
  it('inventories/homelab.yaml exits 0 and prints the summary', () => {
    const r = runCli(['validate', 'inventories/homelab.yaml']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('valid: inventories/homelab.yaml');
    expect(r.stdout).toMatch(/^cluster +homelab$/m);
    expect(r.stdout).toMatch(/^hosts +5 \(3 etcd, 3 server, 2 agent\)$/m);
    for (const [name, addr, roles] of [
      ['pi-1', '192.168.1.11', 'etcd, server'],
      ['pi-2', '192.168.1.12', 'etcd, server'],
      ['pi-3', '192.168.1.13', 'etcd, server'],
      ['worker-1', '192.168.1.21', 'agent'],
      ['worker-2', '192.168.1.22', 'agent'],
    ] as const) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name} +${addr.replace(/\./g, '\\.')} +${roles}`, 'm'));
    }
    expect(r.stdout).toMatch(/^endpoint +keepalived, vip 192\.168\.1\.10:6443 on eth0$/m);
    expect(r.stdout).toMatch(/^versions +k3s v1\.34\.3\+k3s1, etcd v3\.5\.21, containerd 1\.7\.28, runc v1\.3\.0, cni v1\.7\.1$/m);
    expect(r.stdout).toMatch(/^network +cni bridge, pods 10\.42\.0\.0\/16, services 10\.43\.0\.0\/16, dns 10\.43\.0\.10$/m);
    expect(r.stdout).toMatch(/^state dir +inventories\/\.kubi\/homelab$/m);
  });

  it('inventories/single-node.yaml exits 0: endpoint none, defaults shown', () => {
    const r = runCli(['validate', 'inventories/single-node.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^hosts +1 \(1 etcd, 1 server, 0 agent\)$/m);
    expect(r.stdout).toMatch(/^endpoint +none: the API is at the first server, 192\.168\.1\.50:6443$/m);
    expect(r.stdout).toMatch(/^state dir +inventories\/\.kubi\/single$/m);
  });

  it('the state dir is shown absolute when the inventory is outside the working directory', () => {
    const r = runCli(['validate', path.join(ROOT, 'inventories/single-node.yaml')], { cwd: os.tmpdir() });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`state dir  ${path.join(ROOT, 'inventories/.kubi/single')}`);
  });

  const dir = path.join(ROOT, 'test/fixtures/inventories');
  const valid = readdirSync(dir).filter((f) => /^valid-.*\.yaml$/.test(f));
  it('there are valid fixtures', () => expect(valid.length).toBeGreaterThanOrEqual(5));
  for (const file of valid) {
    it(`${file} exits 0`, () => {
      const r = runCli(['validate', `test/fixtures/inventories/${file}`]);
      expect(r.stderr).toBe('');
      expect(stackLines(r.stdout)).toEqual([]);
      expect(r.status).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(`valid: test/fixtures/inventories/${file}`);
    });
  }
});
