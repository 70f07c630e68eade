/**
 * Host preparation on a real kernel (the lab's vm backend: QEMU, TCG here, ~45 s per boot): one
 * VM with swap on (a swap file in /etc/fstab) and no Kubernetes modules or sysctls. `up --until
 * host` loads overlay and br_netfilter, sets the sysctls and turns swap off; after a real reboot
 * the modules are loaded, the sysctls set and swap is still off, and a plan is empty.
 * Own lab name and subnet (kubivm8, 10.168.9.0/24); `lab down` always runs in afterAll.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LocalRunner } from '../../src/lab/exec.js';
import { waitForSsh } from '../../src/lab/ssh.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = 'kubivm8';
const ADDRESS = '10.168.9.11';
let work: string;
let inventory: string;
let keyPath: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program without blocking the test worker; never rejects. */
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

function kubi(args: string[], timeoutMs = 900_000): Promise<Run> {
  return run(process.execPath, [path.join(ROOT, 'bin', 'kubi-provision.js'), ...args], timeoutMs);
}

async function ssh(command: string, allowFailure = false): Promise<string> {
  const r = await run('ssh', ['-i', keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', `root@${ADDRESS}`, command], 120_000);
  if (r.code !== 0 && !allowFailure) throw new Error(`ssh ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function reboot(): Promise<void> {
  const before = (await ssh('cat /proc/sys/kernel/random/boot_id')).trim();
  await ssh('systemctl reboot', true);
  await waitForSsh(new LocalRunner(null), { node: 'node1', address: ADDRESS, keyPath, timeoutMs: 300_000, probe: [`test "$(cat /proc/sys/kernel/random/boot_id)" != ${before}`] });
}

/** modules (by what they provide), sysctls and active swap, as one line each */
function kernelState(): Promise<string> {
  return ssh(
    [
      'echo "overlay $(grep -qw overlay /proc/filesystems && echo on || echo off)"',
      'echo "br_netfilter $(grep -q "^br_netfilter " /proc/modules && echo loaded || echo absent)"',
      'echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"',
      'echo "bridge-nf-call-iptables $(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo missing)"',
      'echo "swap $(tail -n +2 /proc/swaps | wc -l)"',
    ].join('; '),
  );
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-e2e-vm-'));
  inventory = path.join(work, 'lab.yaml');
  const up = await kubi(['lab', 'up', '--backend', 'vm', '--nodes', '1', '--name', LAB, '--subnet', '10.168.9.0/24', '--inventory', inventory]);
  if (up.code !== 0) throw new Error(`lab up --backend vm failed (${up.code}): ${up.stderr}\n${up.stdout}`);
  keyPath = (parse(readFileSync(inventory, 'utf8')) as { ssh: { privateKey: string } }).ssh.privateKey;
});

afterAll(async () => {
  const down = await kubi(['lab', 'down', '--name', LAB], 300_000);
  if (work) rmSync(work, { recursive: true, force: true });
  expect(down.code).toBe(0);
});

describe('host preparation on a VM with its own kernel', () => {
  it('modules, sysctls and swap-off are in place after up and survive a reboot', async () => {
    // a host as it comes: a swap file in fstab and on, nothing loaded for Kubernetes
    await ssh('fallocate -l 64M /swapfile && chmod 600 /swapfile && mkswap /swapfile >/dev/null && echo "/swapfile none swap sw 0 0" >> /etc/fstab && swapon -a');
    expect(await kernelState()).toBe('overlay off\nbr_netfilter absent\nip_forward 0\nbridge-nf-call-iptables missing\nswap 1\n');

    const up = await kubi(['up', inventory, '--until', 'host']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await kernelState()).toBe('overlay on\nbr_netfilter loaded\nip_forward 1\nbridge-nf-call-iptables 1\nswap 0\n');
    expect(await ssh('grep swapfile /etc/fstab')).toBe('#kubi-provision: swap off# /swapfile none swap sw 0 0\n');

    await reboot();
    expect(await kernelState()).toBe('overlay on\nbr_netfilter loaded\nip_forward 1\nbridge-nf-call-iptables 1\nswap 0\n');
    const plan = await kubi(['plan', inventory, '--until', 'host', '--output', 'json']);
    expect(plan.code).toBe(0);
    expect((JSON.parse(plan.stdout) as { totalChanges: number }).totalChanges).toBe(0);
  });
});
