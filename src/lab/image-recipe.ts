/**
 * The recipe of the lab's base image (pure): the debootstrap package list and every file and chroot
 * command that configures it. The image cache is keyed on a hash of this recipe, so changing a
 * package or a configured file builds a new image and never reuses a stale one.
 *
 * The image is generic: nothing in it depends on the lab's subnet, key or node. Per-node identity
 * (address, host name, authorized key, apt source) is written by the lab into a container's
 * writable layer, or passed to a VM on its kernel command line and applied at boot by
 * kubi-lab-identity.service. Host keys (ed25519 only) and machine-id are created at first boot.
 * Packages the tool installs on hosts (conntrack, socat, ipset, ebtables, keepalived) are left out on
 * purpose: they come from the lab's local package repository so the tool's installation runs for real.
 * Kernel modules and sysctls for Kubernetes are left out too: the tool's host steps configure them.
 */
import { createHash } from 'node:crypto';

export const IMAGE_SUITE = 'bookworm';
/** bump when the build procedure changes in a way the file list below does not show */
export const CONFIGURE_VERSION = 3;

export const IMAGE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'udev',
  'kmod',
  'openssh-server',
  'iproute2',
  'iptables',
  'sudo',
  'python3',
  'curl',
  'ca-certificates',
  'procps',
  'openssl',
  'linux-image-amd64',
  'initramfs-tools',
  'libnss-myhostname',
  'iputils-ping',
  'e2fsprogs',
  'util-linux',
  'less',
  'xz-utils',
  'zstd',
] as const;

/** What the tool itself installs on hosts: never in the image, always in the local repository. */
export const TOOL_INSTALLED_PACKAGES = ['conntrack', 'socat', 'ipset', 'ebtables', 'keepalived'] as const;

export interface ImageFile {
  /** path inside the rootfs, without a leading slash */
  path: string;
  content: string;
  mode: number;
}

export interface ImageRecipe {
  suite: string;
  variant: 'minbase';
  arch: string;
  packages: readonly string[];
  configureVersion: number;
  files: readonly ImageFile[];
  /** commands run with chroot inside the rootfs, in order */
  chroot: readonly (readonly string[])[];
  /** units masked in the image (cost boot time, useless in a throw-away lab) */
  masked: readonly string[];
}

const SSHD_CONFIG = `# kubi lab: key-only logins, one ed25519 host key generated at first boot
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
# the tool opens many channels over one connection per host
MaxSessions 64
MaxStartups 64:30:128
`;

const SSH_HOSTKEY_DROPIN = `# kubi lab: each node creates its own ed25519 host key at first boot (no RSA: 14 s under TCG)
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
`;

const IDENTITY_SCRIPT = `#!/bin/sh
# kubi lab: a VM's identity from its kernel command line (containers get these files from the lab).
#   ip=<addr>::<gw>:<mask>:<hostname>:eth0:off   -> "<addr> <hostname>" in /etc/hosts
#   kubi.apt=<url>                               -> the only apt source (the lab's local repository)
#   kubi.key=<base64 of an OpenSSH public key>   -> authorized_keys of root and kubi
set -u
ip=; host=; apt=; key=
for a in $(cat /proc/cmdline); do
  case "$a" in
    ip=*) v=\${a#ip=}; ip=\${v%%:*}; host=$(echo "$v" | cut -d: -f5) ;;
    kubi.apt=*) apt=\${a#kubi.apt=} ;;
    kubi.key=*) key=$(echo "\${a#kubi.key=}" | base64 -d) ;;
  esac
done
if [ -n "$ip" ] && [ -n "$host" ] && ! grep -q "^$ip $host\\$" /etc/hosts; then
  echo "$ip $host" >>/etc/hosts
fi
if [ -n "$apt" ]; then
  echo "deb [trusted=yes] $apt ./" >/etc/apt/sources.list
fi
if [ -n "$key" ]; then
  for d in /root/.ssh /home/kubi/.ssh; do
    mkdir -p "$d" && chmod 700 "$d" && printf '%s\\n' "$key" >"$d/authorized_keys" && chmod 600 "$d/authorized_keys"
  done
  chown -R kubi:kubi /home/kubi/.ssh
fi
exit 0
`;

const IDENTITY_UNIT = `[Unit]
Description=kubi lab: node identity from the kernel command line
DefaultDependencies=no
ConditionVirtualization=!container
After=local-fs.target
Before=network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kubi-lab-identity

[Install]
WantedBy=sysinit.target
`;

export function imageRecipe(arch = 'amd64'): ImageRecipe {
  const files: ImageFile[] = [
    { path: 'etc/fstab', content: '/dev/vda / ext4 defaults,noatime,errors=remount-ro 0 1\n', mode: 0o644 },
    { path: 'etc/hostname', content: 'kubi-node\n', mode: 0o644 },
    { path: 'etc/hosts', content: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n', mode: 0o644 },
    { path: 'etc/resolv.conf', content: '', mode: 0o644 },
    { path: 'etc/machine-id', content: '', mode: 0o444 },
    { path: 'etc/apt/sources.list', content: '# written per node by the kubi lab (its local repository only)\n', mode: 0o644 },
    { path: 'etc/ssh/sshd_config.d/kubi-lab.conf', content: SSHD_CONFIG, mode: 0o644 },
    { path: 'etc/systemd/system/ssh.service.d/kubi-lab-hostkey.conf', content: SSH_HOSTKEY_DROPIN, mode: 0o644 },
    { path: 'etc/sudoers.d/kubi', content: 'kubi ALL=(ALL) NOPASSWD:ALL\n', mode: 0o440 },
    { path: 'etc/systemd/journald.conf.d/kubi-lab.conf', content: '[Journal]\nSystemMaxUse=64M\n', mode: 0o644 },
    { path: 'usr/local/sbin/kubi-lab-identity', content: IDENTITY_SCRIPT, mode: 0o755 },
    { path: 'etc/systemd/system/kubi-lab-identity.service', content: IDENTITY_UNIT, mode: 0o644 },
    // a small initramfs (MODULES=most gives 29 MiB, slow to unpack under TCG)
    { path: 'etc/initramfs-tools/modules', content: 'virtio_pci\nvirtio_blk\nvirtio_net\next4\ncrc32c_generic\n', mode: 0o644 },
    { path: 'etc/initramfs-tools/conf.d/kubi-lab.conf', content: 'MODULES=list\n', mode: 0o644 },
  ];
  return {
    suite: IMAGE_SUITE,
    variant: 'minbase',
    arch,
    packages: IMAGE_PACKAGES,
    configureVersion: CONFIGURE_VERSION,
    files,
    chroot: [
      ['useradd', '-m', '-s', '/bin/bash', '-G', 'sudo', 'kubi'],
      ['passwd', '-l', 'root'],
      ['systemctl', 'enable', 'systemd-networkd.service', 'systemd-network-generator.service', 'kubi-lab-identity.service'],
      ['update-initramfs', '-u', '-k', 'all'],
      ['apt-get', 'clean'],
    ],
    masked: [
      'systemd-networkd-wait-online.service',
      'e2scrub_reap.service',
      'e2scrub_all.timer',
      'apt-daily.timer',
      'apt-daily-upgrade.timer',
      'man-db.timer',
      'fstrim.timer',
    ],
  };
}

/** A short, stable key for the image cache. */
export function recipeHash(recipe: ImageRecipe): string {
  const canonical = JSON.stringify({
    suite: recipe.suite,
    variant: recipe.variant,
    arch: recipe.arch,
    packages: [...recipe.packages].sort(),
    configureVersion: recipe.configureVersion,
    files: [...recipe.files].sort((a, b) => a.path.localeCompare(b.path)).map((f) => [f.path, f.mode, f.content]),
    chroot: recipe.chroot,
    masked: [...recipe.masked].sort(),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** Add `myhostname` to the hosts line of nsswitch.conf (pure). */
export function withMyHostname(nsswitch: string): string {
  return nsswitch.replace(/^(hosts:[^\n]*)$/m, (line) => (/\bmyhostname\b/.test(line) ? line : `${line} myhostname`));
}
