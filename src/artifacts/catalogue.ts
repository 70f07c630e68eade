/**
 * The artifact catalogue (pure): for k3s, etcd, containerd, runc, the CNI plugins and crictl,
 * the upstream release URL, the checksum file and its format, the file name per architecture,
 * what to take from the archive and where each binary is installed on a host.
 *
 * Offline directories and mirrors use one layout: `<base>/<component>/<version>/<file>` with
 * the upstream file names, the version exactly as written in the inventory (see
 * ../shared/notes/k3s-facts.md §1.10, §2.4, §3.2 for the upstream facts).
 */
import { KubiError } from '../errors.js';
import type { Arch } from '../inventory/schema.js';

export const COMPONENTS = ['k3s', 'etcd', 'containerd', 'runc', 'cni', 'crictl'] as const;
export type Component = (typeof COMPONENTS)[number];

/**
 * - `list`: `<sha256>  <file>` lines for several files (sha256sum / shasum output); pick ours by name.
 * - `single`: one hash for one file, with or without the file name after it.
 */
export type ChecksumFormat = 'list' | 'single';

export type InstallRule =
  /** one file of the archive (path inside it) or, for a bare binary, the file itself (member '') */
  | { kind: 'file'; member: string; installPath: string; mode: number; optional?: boolean }
  /** every executable regular file of the archive into a directory (the CNI plugins) */
  | { kind: 'all-executables'; installDir: string; mode: number };

export interface ArtifactSpec {
  component: Component;
  /** the version as written in the inventory */
  version: string;
  arch: Arch;
  /** a bare binary or a gzip-compressed tar archive */
  kind: 'binary' | 'tar.gz';
  fileName: string;
  checksumFileName: string;
  checksumFormat: ChecksumFormat;
  /** release download URLs */
  upstreamUrl: string;
  checksumUpstreamUrl: string;
  /** `<component>/<version>`: the directory in an offline dir, a mirror and the cache */
  relativeDir: string;
  installs: InstallRule[];
}

export class ArtifactError extends KubiError {
  constructor(code: string, message: string, hint: string, opts: { host?: string; cause?: unknown } = {}) {
    super(code, message, { hint, ...opts });
    this.name = 'ArtifactError';
  }
}

const withV = (v: string): string => (v.startsWith('v') ? v : `v${v}`);
const withoutV = (v: string): string => v.replace(/^v/, '');

/** Go's arch names used by most release files; `arm` for 32-bit ARM (armhf userland). */
const GOARCH: Record<Arch, string> = { amd64: 'amd64', arm64: 'arm64', armhf: 'arm' };

const EXEC = 0o755;

function refuseArmhf(component: string, hint: string): never {
  throw new ArtifactError(
    'artifact-arch-unsupported',
    `${component} publishes no 32-bit arm (armhf) build`,
    hint,
  );
}

function checkVersion(component: Component, version: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(version)) {
    throw new ArtifactError(
      'artifact-bad-version',
      `"${version}" is not a valid ${component} version`,
      `write the release version as published, e.g. ${EXAMPLE_VERSION[component]}`,
    );
  }
}

const EXAMPLE_VERSION: Record<Component, string> = {
  k3s: 'v1.34.3+k3s1',
  etcd: 'v3.5.21',
  containerd: '1.7.28',
  runc: 'v1.3.0',
  cni: 'v1.7.1',
  crictl: 'v1.34.0',
};

const GITHUB = 'https://github.com';

/** The artifact for one component, version and architecture; throws for unsupported combinations. */
export function artifactFor(component: Component, version: string, arch: Arch | 'unknown'): ArtifactSpec {
  checkVersion(component, version);
  if (arch === 'unknown') {
    throw new ArtifactError(
      'artifact-arch-unsupported',
      `no ${component} build for this host's architecture`,
      'kubi-provision supports amd64, arm64 and armhf (32-bit arm) hosts',
    );
  }
  const relativeDir = `${component}/${version}`;
  const base = { component, version, arch, relativeDir };
  switch (component) {
    case 'k3s': {
      const suffix = arch === 'amd64' ? '' : arch === 'arm64' ? '-arm64' : '-armhf';
      const fileName = `k3s${suffix}`;
      const checksumFileName = `sha256sum-${GOARCH[arch]}.txt`;
      const dl = `${GITHUB}/k3s-io/k3s/releases/download/${encodeURIComponent(version)}`;
      return {
        ...base,
        kind: 'binary',
        fileName,
        checksumFileName,
        checksumFormat: 'list',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/${checksumFileName}`,
        installs: [{ kind: 'file', member: '', installPath: '/usr/local/bin/k3s', mode: EXEC }],
      };
    }
    case 'etcd': {
      if (arch === 'armhf') {
        refuseArmhf(
          'etcd',
          'use a 64-bit OS (arm64) on the Pi, or give the etcd role to 64-bit (amd64/arm64) hosts only',
        );
      }
      const v = withV(version);
      const dir = `etcd-${v}-linux-${arch}`;
      const fileName = `${dir}.tar.gz`;
      const dl = `${GITHUB}/etcd-io/etcd/releases/download/${v}`;
      return {
        ...base,
        kind: 'tar.gz',
        fileName,
        checksumFileName: 'SHA256SUMS',
        checksumFormat: 'list',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/SHA256SUMS`,
        installs: [
          { kind: 'file', member: `${dir}/etcd`, installPath: '/usr/local/bin/etcd', mode: EXEC },
          { kind: 'file', member: `${dir}/etcdctl`, installPath: '/usr/local/bin/etcdctl', mode: EXEC },
          // etcdutl exists from v3.5 on
          { kind: 'file', member: `${dir}/etcdutl`, installPath: '/usr/local/bin/etcdutl', mode: EXEC, optional: true },
        ],
      };
    }
    case 'containerd': {
      if (arch === 'armhf') {
        refuseArmhf(
          'containerd',
          "use a 64-bit OS (arm64) on the Pi; on a 32-bit OS only the distribution's containerd package would work",
        );
      }
      const fileName = `containerd-${withoutV(version)}-linux-${arch}.tar.gz`;
      const dl = `${GITHUB}/containerd/containerd/releases/download/${withV(version)}`;
      return {
        ...base,
        kind: 'tar.gz',
        fileName,
        checksumFileName: `${fileName}.sha256sum`,
        checksumFormat: 'single',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/${fileName}.sha256sum`,
        installs: [
          { kind: 'file', member: 'bin/containerd', installPath: '/usr/local/bin/containerd', mode: EXEC },
          {
            kind: 'file',
            member: 'bin/containerd-shim-runc-v2',
            installPath: '/usr/local/bin/containerd-shim-runc-v2',
            mode: EXEC,
          },
          { kind: 'file', member: 'bin/ctr', installPath: '/usr/local/bin/ctr', mode: EXEC },
        ],
      };
    }
    case 'runc': {
      const fileName = `runc.${arch}`;
      const dl = `${GITHUB}/opencontainers/runc/releases/download/${withV(version)}`;
      return {
        ...base,
        kind: 'binary',
        fileName,
        checksumFileName: 'runc.sha256sum',
        checksumFormat: 'list',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/runc.sha256sum`,
        installs: [{ kind: 'file', member: '', installPath: '/usr/local/sbin/runc', mode: EXEC }],
      };
    }
    case 'cni': {
      const v = withV(version);
      const fileName = `cni-plugins-linux-${GOARCH[arch]}-${v}.tgz`;
      const dl = `${GITHUB}/containernetworking/plugins/releases/download/${v}`;
      return {
        ...base,
        kind: 'tar.gz',
        fileName,
        checksumFileName: `${fileName}.sha256`,
        checksumFormat: 'single',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/${fileName}.sha256`,
        installs: [{ kind: 'all-executables', installDir: '/opt/cni/bin', mode: EXEC }],
      };
    }
    case 'crictl': {
      const v = withV(version);
      const fileName = `crictl-${v}-linux-${GOARCH[arch]}.tar.gz`;
      const dl = `${GITHUB}/kubernetes-sigs/cri-tools/releases/download/${v}`;
      return {
        ...base,
        kind: 'tar.gz',
        fileName,
        checksumFileName: `${fileName}.sha256`,
        checksumFormat: 'single',
        upstreamUrl: `${dl}/${fileName}`,
        checksumUpstreamUrl: `${dl}/${fileName}.sha256`,
        installs: [{ kind: 'file', member: 'crictl', installPath: '/usr/local/bin/crictl', mode: EXEC }],
      };
    }
  }
}

/** URL of a file under a mirror that uses the offline-directory layout. */
export function mirrorUrl(baseUrl: string, spec: ArtifactSpec, fileName: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return `${base}/${spec.component}/${encodeURIComponent(spec.version)}/${encodeURIComponent(fileName)}`;
}

/** Every install path a spec can produce that is known in advance (all-executables rules give their directory). */
export function installTargets(spec: ArtifactSpec): string[] {
  return spec.installs.map((r) => (r.kind === 'file' ? r.installPath : `${r.installDir}/*`));
}
