/**
 * The vm backend, for real (TCG on a machine without hardware virtualisation: ~45 s per boot): one
 * VM with its own Debian kernel; load a module and set a kernel sysctl over SSH through the tool's
 * transport, reboot it, wait for it with waitForSsh, and check it is the same machine after a real
 * reboot (same machine-id and host key, new boot id, the module and sysctl gone because nothing
 * persisted them). Own namespace and subnet.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { LocalRunner } from '../../src/lab/exec.js';
import { waitForSsh } from '../../src/lab/ssh.js';
import { connectHosts, targetsFromInventory, type HostPool } from '../../src/transport/index.js';
import { leftovers, startLab, type LabHandle } from '../harness/lab.js';

const NS = 'kubilabvm';
let lab: LabHandle | null = null;
let tmp: string;
let pool: HostPool | null = null;

async function connect(): Promise<HostPool> {
  const inv = parseInventory(readFileSync(lab!.inventoryPath, 'utf8'), lab!.inventoryPath);
  return connectHosts(targetsFromInventory(inv), { stateDir: path.join(tmp, 'cluster-state') });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-vm-'));
  lab = await startLab({ backend: 'vm', nodes: 1, namespace: NS, subnet: '10.80.0.0/24', inventoryPath: path.join(tmp, 'lab.yaml') });
});

afterAll(async () => {
  pool?.closeAll();
  await lab?.down();
  await rm(tmp, { recursive: true, force: true });
});

describe('vm lab', () => {
  it('boots a VM with its own kernel; a module and a sysctl set over SSH are gone after a real reboot', async () => {
    expect(lab!.result.accel).not.toBeNull();
    const inv = parseInventory(readFileSync(lab!.inventoryPath, 'utf8'), lab!.inventoryPath);
    expect(inv.etcd).toMatchObject({ heartbeatIntervalMs: 500, electionTimeoutMs: 5000 });

    pool = await connect();
    const node = pool.get('node1');
    const bootBefore = (await node.exec(['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim();
    const machineId = (await node.exec(['cat', '/etc/machine-id'])).stdout.trim();
    expect((await node.exec(['uname', '-r'])).stdout.trim()).toMatch(/-amd64$/); // the image's kernel, not the host's
    await node.exec(['modprobe', 'dummy']);
    expect((await node.exec(['cat', '/proc/modules'])).stdout).toMatch(/^dummy /m);
    await node.exec(['sysctl', '-w', 'vm.swappiness=17']);
    expect((await node.exec(['cat', '/proc/sys/vm/swappiness'])).stdout.trim()).toBe('17');

    // reboot: the connection drops while the command runs, so its outcome is not checked
    await node.exec(['systemctl', 'reboot'], { allowFailure: true, timeoutMs: 20_000 }).catch(() => undefined);
    pool.closeAll();
    pool = null;
    // wait for a login on the NEW boot (the probe fails while the old system is still shutting down)
    await waitForSsh(new LocalRunner(null), {
      node: 'node1',
      address: '10.80.0.11',
      keyPath: lab!.keyPath,
      timeoutMs: 240_000,
      probe: ['test "$(cat /proc/sys/kernel/random/boot_id)" != ' + bootBefore],
    });

    pool = await connect(); // same known_hosts: the host key survived the reboot
    const again = pool.get('node1');
    expect((await again.exec(['hostname'])).stdout.trim()).toBe('node1');
    expect((await again.exec(['cat', '/etc/machine-id'])).stdout.trim()).toBe(machineId);
    expect((await again.exec(['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim()).not.toBe(bootBefore);
    expect((await again.exec(['cat', '/proc/modules'])).stdout).not.toMatch(/^dummy /m);
    expect((await again.exec(['cat', '/proc/sys/vm/swappiness'])).stdout.trim()).toBe('60');
    pool.closeAll();
    pool = null;
  });

  it('lab down stops qemu and removes the tap, namespace and disk', async () => {
    const pids = lab!.pids();
    expect(pids.length).toBeGreaterThanOrEqual(2); // qemu + repo server
    await lab!.down();
    expect(leftovers(NS, lab!.stateDir, pids, '10.80.0.1')).toEqual([]);
  });

  it('waitForSsh gives up with a message that says what it waited for', async () => {
    const err = (await waitForSsh(new LocalRunner(null), { node: 'node1', address: '10.80.0.11', keyPath: lab!.keyPath, timeoutMs: 1500 }).catch((e: unknown) => e)) as { code: string; message: string; hint: string };
    expect(err).toMatchObject({ code: 'lab-ssh-timeout' });
    expect(err.message).toBe('timed out after 2 s waiting for root@10.80.0.11 (node1) to accept an ssh login');
    expect(err.hint).toMatch(/^last ssh error: /);
  });
});
