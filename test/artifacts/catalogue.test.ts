/** The artifact catalogue: file names, URLs, checksum files and install paths per architecture. */
import { describe, expect, it } from 'vitest';
import { COMPONENTS, artifactFor, installTargets, mirrorUrl } from '../../src/artifacts/index.js';

describe('artifactFor', () => {
  it('k3s: k3s / k3s-arm64 / k3s-armhf with sha256sum-<amd64|arm64|arm>.txt, + encoded in the URL', () => {
    const amd = artifactFor('k3s', 'v1.34.3+k3s1', 'amd64');
    expect(amd).toMatchObject({
      kind: 'binary',
      fileName: 'k3s',
      checksumFileName: 'sha256sum-amd64.txt',
      checksumFormat: 'list',
      upstreamUrl: 'https://github.com/k3s-io/k3s/releases/download/v1.34.3%2Bk3s1/k3s',
      checksumUpstreamUrl: 'https://github.com/k3s-io/k3s/releases/download/v1.34.3%2Bk3s1/sha256sum-amd64.txt',
      relativeDir: 'k3s/v1.34.3+k3s1',
    });
    expect(installTargets(amd)).toEqual(['/usr/local/bin/k3s']);
    expect(artifactFor('k3s', 'v1.34.3+k3s1', 'arm64')).toMatchObject({ fileName: 'k3s-arm64', checksumFileName: 'sha256sum-arm64.txt' });
    expect(artifactFor('k3s', 'v1.34.3+k3s1', 'armhf')).toMatchObject({ fileName: 'k3s-armhf', checksumFileName: 'sha256sum-arm.txt' });
  });

  it('etcd: tarball per arch, SHA256SUMS, etcd + etcdctl (+ optional etcdutl) into /usr/local/bin', () => {
    const e = artifactFor('etcd', 'v3.4.23', 'arm64');
    expect(e).toMatchObject({
      kind: 'tar.gz',
      fileName: 'etcd-v3.4.23-linux-arm64.tar.gz',
      checksumFileName: 'SHA256SUMS',
      upstreamUrl: 'https://github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-arm64.tar.gz',
      checksumUpstreamUrl: 'https://github.com/etcd-io/etcd/releases/download/v3.4.23/SHA256SUMS',
      relativeDir: 'etcd/v3.4.23',
    });
    expect(e.installs).toEqual([
      { kind: 'file', member: 'etcd-v3.4.23-linux-arm64/etcd', installPath: '/usr/local/bin/etcd', mode: 0o755 },
      { kind: 'file', member: 'etcd-v3.4.23-linux-arm64/etcdctl', installPath: '/usr/local/bin/etcdctl', mode: 0o755 },
      { kind: 'file', member: 'etcd-v3.4.23-linux-arm64/etcdutl', installPath: '/usr/local/bin/etcdutl', mode: 0o755, optional: true },
    ]);
  });

  it('containerd: version without v in the file name, .sha256sum beside it, three binaries', () => {
    const c = artifactFor('containerd', '1.6.20', 'amd64');
    expect(c).toMatchObject({
      fileName: 'containerd-1.6.20-linux-amd64.tar.gz',
      checksumFileName: 'containerd-1.6.20-linux-amd64.tar.gz.sha256sum',
      checksumFormat: 'single',
      upstreamUrl: 'https://github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz',
      relativeDir: 'containerd/1.6.20',
    });
    expect(installTargets(c)).toEqual(['/usr/local/bin/containerd', '/usr/local/bin/containerd-shim-runc-v2', '/usr/local/bin/ctr']);
  });

  it('runc: runc.<arch> (armhf exists), runc.sha256sum, /usr/local/sbin/runc', () => {
    for (const arch of ['amd64', 'arm64', 'armhf'] as const) {
      const r = artifactFor('runc', 'v1.1.5', arch);
      expect(r).toMatchObject({ kind: 'binary', fileName: `runc.${arch}`, checksumFileName: 'runc.sha256sum' });
      expect(r.upstreamUrl).toBe(`https://github.com/opencontainers/runc/releases/download/v1.1.5/runc.${arch}`);
      expect(installTargets(r)).toEqual(['/usr/local/sbin/runc']);
    }
  });

  it('cni: arch "arm" for armhf, .tgz.sha256, everything executable into /opt/cni/bin', () => {
    expect(artifactFor('cni', 'v1.1.1', 'armhf')).toMatchObject({
      fileName: 'cni-plugins-linux-arm-v1.1.1.tgz',
      checksumFileName: 'cni-plugins-linux-arm-v1.1.1.tgz.sha256',
      upstreamUrl: 'https://github.com/containernetworking/plugins/releases/download/v1.1.1/cni-plugins-linux-arm-v1.1.1.tgz',
    });
    expect(artifactFor('cni', 'v1.1.1', 'amd64').fileName).toBe('cni-plugins-linux-amd64-v1.1.1.tgz');
    expect(installTargets(artifactFor('cni', 'v1.1.1', 'arm64'))).toEqual(['/opt/cni/bin/*']);
  });

  it('crictl: crictl-<v>-linux-<goarch>.tar.gz with a bare .sha256', () => {
    expect(artifactFor('crictl', 'v1.34.0', 'armhf')).toMatchObject({
      fileName: 'crictl-v1.34.0-linux-arm.tar.gz',
      checksumFileName: 'crictl-v1.34.0-linux-arm.tar.gz.sha256',
      checksumFormat: 'single',
      upstreamUrl: 'https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.34.0/crictl-v1.34.0-linux-arm.tar.gz',
    });
    expect(installTargets(artifactFor('crictl', 'v1.34.0', 'amd64'))).toEqual(['/usr/local/bin/crictl']);
  });

  it('etcd and containerd refuse armhf and name the alternative', () => {
    expect(() => artifactFor('etcd', 'v3.5.21', 'armhf')).toThrow(/etcd publishes no 32-bit arm \(armhf\) build/);
    try {
      artifactFor('containerd', '1.7.28', 'armhf');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'artifact-arch-unsupported', hint: expect.stringContaining('use a 64-bit OS (arm64) on the Pi') });
    }
    expect(() => artifactFor('etcd', 'v3.5.21', 'armhf')).toThrow(expect.objectContaining({ hint: expect.stringContaining('64-bit OS (arm64)') }));
  });

  it('every component refuses an unknown arch and a version that is not a plain release name', () => {
    for (const c of COMPONENTS) {
      expect(() => artifactFor(c, 'v1.0.0', 'unknown')).toThrow(expect.objectContaining({ code: 'artifact-arch-unsupported' }));
      expect(() => artifactFor(c, '../v1', 'amd64')).toThrow(expect.objectContaining({ code: 'artifact-bad-version' }));
    }
  });

  it('mirror URLs use the offline layout', () => {
    const k = artifactFor('k3s', 'v1.34.3+k3s1', 'arm64');
    expect(mirrorUrl('http://10.77.0.1:8080/artifacts/', k, k.fileName)).toBe('http://10.77.0.1:8080/artifacts/k3s/v1.34.3%2Bk3s1/k3s-arm64');
    const e = artifactFor('etcd', 'v3.4.23', 'amd64');
    expect(mirrorUrl('http://m', e, e.checksumFileName)).toBe('http://m/etcd/v3.4.23/SHA256SUMS');
  });
});
