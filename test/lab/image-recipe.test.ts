import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageRecipe, IMAGE_PACKAGES, recipeHash, TOOL_INSTALLED_PACKAGES, withMyHostname } from '../../src/lab/image-recipe.js';

describe('image recipe', () => {
  it('has what a node needs and leaves out what the tool installs', () => {
    for (const p of ['systemd', 'openssh-server', 'iproute2', 'iptables', 'kmod', 'sudo', 'python3', 'curl', 'ca-certificates', 'procps', 'openssl', 'linux-image-amd64', 'initramfs-tools']) {
      expect(IMAGE_PACKAGES).toContain(p);
    }
    for (const p of TOOL_INSTALLED_PACKAGES) expect(IMAGE_PACKAGES).not.toContain(p);
  });

  it('makes every node create its own ed25519 host key and machine-id', () => {
    const r = imageRecipe();
    const file = (p: string) => r.files.find((f) => f.path === p)?.content;
    expect(file('etc/machine-id')).toBe('');
    expect(file('etc/ssh/sshd_config.d/kubi-lab.conf')).toMatch(/^HostKey \/etc\/ssh\/ssh_host_ed25519_key$/m);
    expect(file('etc/ssh/sshd_config.d/kubi-lab.conf')).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(file('etc/ssh/sshd_config.d/kubi-lab.conf')).toMatch(/^PasswordAuthentication no$/m);
    expect(file('etc/systemd/system/ssh.service.d/kubi-lab-hostkey.conf')).toContain('ssh-keygen -q -t ed25519');
    expect(file('etc/sudoers.d/kubi')).toBe('kubi ALL=(ALL) NOPASSWD:ALL\n');
    expect(r.files.find((f) => f.path === 'etc/sudoers.d/kubi')?.mode).toBe(0o440);
  });

  it('is keyed on its content: same recipe same hash, any change a new one', () => {
    const a = imageRecipe();
    expect(recipeHash(a)).toBe(recipeHash(imageRecipe()));
    expect(recipeHash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(recipeHash({ ...a, packages: [...a.packages, 'vim'] })).not.toBe(recipeHash(a));
    expect(recipeHash({ ...a, configureVersion: a.configureVersion + 1 })).not.toBe(recipeHash(a));
    expect(recipeHash({ ...a, files: a.files.map((f) => (f.path === 'etc/hostname' ? { ...f, content: 'x\n' } : f)) })).not.toBe(recipeHash(a));
    expect(recipeHash({ ...a, packages: [...a.packages].reverse() })).toBe(recipeHash(a));
  });

  it('adds myhostname to nsswitch once', () => {
    const once = withMyHostname('passwd: files\nhosts:          files dns\n');
    expect(once).toContain('hosts:          files dns myhostname');
    expect(withMyHostname(once)).toBe(once);
  });

  it('the VM identity script applies ip=, kubi.apt= and kubi.key= from a kernel command line (run with sh)', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'kubi-identity-'));
    try {
      const script = imageRecipe().files.find((f) => f.path === 'usr/local/sbin/kubi-lab-identity')!.content;
      // the same script with its absolute paths moved under a temp root (chown needs the real kubi user)
      const moved = script
        .replaceAll('/proc/cmdline', `${root}/cmdline`)
        .replaceAll('/etc/', `${root}/etc/`)
        .replaceAll('/root/.ssh', `${root}/root/.ssh`)
        .replaceAll('/home/kubi/.ssh', `${root}/home/kubi/.ssh`)
        .replace(/^\s*chown .*$/m, '  :');
      const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq1 kubi-lab';
      await mkdir(path.join(root, 'etc/apt'), { recursive: true });
      await writeFile(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
      await writeFile(
        path.join(root, 'cmdline'),
        `root=/dev/vda rw console=ttyS0 net.ifnames=0 ip=10.77.0.12::10.77.0.1:255.255.255.0:node2:eth0:off systemd.hostname=node2 kubi.apt=http://10.77.0.1:8080/ kubi.key=${Buffer.from(key).toString('base64')} quiet\n`,
      );
      await writeFile(path.join(root, 'identity.sh'), moved);
      execFileSync('sh', [path.join(root, 'identity.sh')]);
      execFileSync('sh', [path.join(root, 'identity.sh')]); // a reboot runs it again
      expect(await readFile(path.join(root, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n10.77.0.12 node2\n');
      expect(await readFile(path.join(root, 'etc/apt/sources.list'), 'utf8')).toBe('deb [trusted=yes] http://10.77.0.1:8080/ ./\n');
      expect(await readFile(path.join(root, 'root/.ssh/authorized_keys'), 'utf8')).toBe(`${key}\n`);
      expect(await readFile(path.join(root, 'home/kubi/.ssh/authorized_keys'), 'utf8')).toBe(`${key}\n`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
