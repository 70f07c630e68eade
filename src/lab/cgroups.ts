/**
 * The host's cgroup layout and the LXC mount hook it may need (pure, tested on real mountinfo).
 *
 * On hosts with cgroup v1 (legacy or hybrid), LXC leaves cgroup mounting to the container's systemd,
 * which co-mounts "cpu,cpuacct". When the host mounts cpu and cpuacct as SEPARATE hierarchies, that
 * fails with EPERM and runc later cannot set cpu limits (lab-report pitfall 16). The hook pre-mounts
 * every v1 hierarchy exactly as the host has it, with the directory names systemd expects, before
 * systemd starts. On a pure cgroup v2 host no hook is needed.
 */

export interface CgroupLayout {
  /** /sys/fs/cgroup itself is cgroup2 */
  pureV2: boolean;
  /** the controller sets of each v1 hierarchy, e.g. [['cpu'], ['cpuacct'], ['memory']] */
  v1: string[][];
  /** a named v1 hierarchy `name=systemd` exists */
  systemdV1: boolean;
  /** a cgroup2 hierarchy is mounted besides v1 (hybrid) */
  unified: boolean;
}

const NON_CONTROLLER = new Set(['rw', 'ro', 'xattr', 'clone_children', 'noprefix', 'nsdelegate', 'memory_recursiveprot', 'favordynmods', 'none']);

export function parseCgroupLayout(mountinfo: string): CgroupLayout {
  const layout: CgroupLayout = { pureV2: false, v1: [], systemdV1: false, unified: false };
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.slice(0, sep).split(' ')[4] ?? '';
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (!mountPoint.startsWith('/sys/fs/cgroup')) continue;
    if (fstype === 'cgroup2') {
      if (mountPoint === '/sys/fs/cgroup') layout.pureV2 = true;
      else layout.unified = true;
    } else if (fstype === 'cgroup') {
      const opts = superOpts.split(',');
      if (opts.includes('name=systemd')) {
        layout.systemdV1 = true;
        continue;
      }
      const ctrls = opts.filter((o) => !NON_CONTROLLER.has(o) && !o.includes('='));
      if (ctrls.length > 0 && !layout.v1.some((s) => s.join(',') === ctrls.join(','))) layout.v1.push(ctrls);
    }
  }
  return layout;
}

/** The lxc.hook.mount script for this layout, or null when none is needed (pure cgroup v2). */
export function cgroupMountHook(layout: CgroupLayout): string | null {
  if (layout.pureV2 || layout.v1.length === 0) return null;
  const lines = [
    '#!/bin/sh',
    '# lxc.hook.mount written by the kubi lab for this host\'s cgroup v1 layout: pre-mount every hierarchy',
    '# as the host has it, named the way systemd expects (lab-report pitfall 16), before systemd starts.',
    'R="$LXC_ROOTFS_MOUNT/sys/fs/cgroup"',
    'mountpoint -q "$R" || mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 tmpfs "$R"',
    'm() { mkdir -p "$R/$1"; mountpoint -q "$R/$1" || mount -t cgroup -o "rw,nosuid,nodev,noexec,$2" cgroup "$R/$1"; }',
  ];
  const separateCpu = layout.v1.some((s) => s.length === 1 && s[0] === 'cpu') && layout.v1.some((s) => s.length === 1 && s[0] === 'cpuacct');
  for (const set of layout.v1) {
    const opts = set.join(',');
    if (separateCpu && opts === 'cpu') {
      // systemd looks for "cpu,cpuacct": give it the cpu hierarchy under that name
      lines.push('m "cpu,cpuacct" cpu', 'ln -sfn "cpu,cpuacct" "$R/cpu"');
      continue;
    }
    const dir = opts;
    lines.push(`m "${dir}" ${opts}`);
    if (set.length > 1) for (const c of set) lines.push(`ln -sfn "${dir}" "$R/${c}"`);
  }
  if (layout.systemdV1) lines.push('m systemd none,name=systemd');
  if (layout.unified) lines.push('mkdir -p "$R/unified"; mountpoint -q "$R/unified" || mount -t cgroup2 -o rw,nosuid,nodev,noexec cgroup2 "$R/unified"');
  lines.push('exit 0', '');
  return lines.join('\n');
}
