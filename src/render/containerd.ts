/**
 * containerd configuration: config.toml in the layout of the installed major version (version 2
 * for containerd 1.6/1.7, version 3 for 2.x), the systemd unit (the official one's settings) and
 * /etc/crictl.yaml. CNI directories follow the CNI mode: our bridge plugins in /opt/cni/bin, or
 * the directories k3s's embedded flannel uses.
 */
import { EXIT, KubiError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { CONTAINERD_SOCKET } from './cluster.js';
import { renderTemplate, type RenderedFile } from './engine.js';

export const CONTAINERD_PATHS = {
  config: '/etc/containerd/config.toml',
  unit: '/etc/systemd/system/containerd.service',
  crictl: '/etc/crictl.yaml',
  binary: '/usr/local/bin/containerd',
  runc: '/usr/local/sbin/runc',
} as const;

/** CNI directories per mode. flannel: k3s's stable CNI bin dir and the conf dir its flannel writes to. */
export const CNI_DIRS = {
  bridge: { bin: '/opt/cni/bin', conf: '/etc/cni/net.d' },
  flannel: { bin: '/var/lib/rancher/k3s/data/cni', conf: '/var/lib/rancher/k3s/agent/etc/cni/net.d' },
} as const;

/**
 * Default pod sandbox image: the one k3s itself defaults to (`pause-image`), which is part of
 * k3s's airgap image archive, so it is available offline once that archive is imported.
 */
export const DEFAULT_SANDBOX_IMAGE = 'docker.io/rancher/mirrored-pause:3.6';

export interface ContainerdContext {
  version: string;
  major: number;
  minor: number;
  /** config.toml layout: 2 for containerd 1.x, 3 for 2.x */
  layout: 2 | 3;
  sandboxImage: string;
  runcPath: string;
  cniBinDir: string;
  cniConfDir: string;
  /** version 3 only: `bin_dirs` (list, 2.1+) rather than `bin_dir` (2.0) */
  cniBinDirs: boolean;
  socket: string;
}

/** Major and minor of a containerd version as written in inventories: `1.7.28`, `v2.1.4`, Debian's `1.6.20~ds1-1`. */
export function parseContainerdVersion(version: string): { major: number; minor: number } {
  const m = /^v?(\d+)\.(\d+)/.exec(version.trim());
  if (!m) {
    throw new KubiError('invalid-version', `containerd version ${JSON.stringify(version)} is not a version number`, {
      exitCode: EXIT.invalidInput,
      hint: 'write versions.containerd like 1.7.28 or 2.1.4',
    });
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major < 1 || (major === 1 && minor < 6) || major > 2) {
    throw new KubiError('unsupported-version', `containerd ${version} is not supported`, {
      exitCode: EXIT.invalidInput,
      hint: 'use containerd 1.6, 1.7 or 2.x',
    });
  }
  return { major, minor };
}

export function buildContainerdContext(inv: Inventory, opts: { sandboxImage?: string } = {}): ContainerdContext {
  const { major, minor } = parseContainerdVersion(inv.versions.containerd);
  const dirs = CNI_DIRS[inv.network.cni];
  return {
    version: inv.versions.containerd,
    major,
    minor,
    layout: major >= 2 ? 3 : 2,
    sandboxImage: opts.sandboxImage ?? DEFAULT_SANDBOX_IMAGE,
    runcPath: CONTAINERD_PATHS.runc,
    cniBinDir: dirs.bin,
    cniConfDir: dirs.conf,
    cniBinDirs: major > 2 || (major === 2 && minor >= 1),
    socket: CONTAINERD_SOCKET,
  };
}

export function renderContainerdConfig(ctx: ContainerdContext): string {
  return renderTemplate(ctx.layout === 3 ? 'etc/containerd/config.v3.toml' : 'etc/containerd/config.v2.toml', ctx);
}

/** The official unit's settings; 2.x dropped local-fs.target from After= and LimitNOFILE=infinity. */
export function renderContainerdUnit(ctx: ContainerdContext): string {
  const v1 = ctx.major < 2;
  return renderTemplate('etc/systemd/system/containerd.service', {
    binary: CONTAINERD_PATHS.binary,
    after: v1 ? ['network.target', 'local-fs.target', 'dbus.service'] : ['network.target', 'dbus.service'],
    limitNofileInfinity: v1,
  });
}

export function renderCrictlConfig(ctx: ContainerdContext): string {
  return renderTemplate('etc/crictl.yaml', { socket: ctx.socket });
}

export function containerdFiles(inv: Inventory, opts: { sandboxImage?: string } = {}): RenderedFile[] {
  const ctx = buildContainerdContext(inv, opts);
  return [
    { path: CONTAINERD_PATHS.config, content: renderContainerdConfig(ctx), mode: 0o644 },
    { path: CONTAINERD_PATHS.unit, content: renderContainerdUnit(ctx), mode: 0o644 },
    { path: CONTAINERD_PATHS.crictl, content: renderCrictlConfig(ctx), mode: 0o644 },
  ];
}
