import { describe, expect, it } from 'vitest';
import { k3sChecksumArch, k3sFileName, labVersions, layoutFiles, parseK3sVersion, upstreamVersion } from '../../src/lab/artifacts.js';
import { ociDocuments } from '../../src/lab/oci.js';
import { sha256 } from '../../src/lab/fsutil.js';
import { parseAptCacheShow, renderRelease } from '../../src/lab/repo.js';

describe('versions from Debian packages', () => {
  it.each([
    ['3.4.23-4+b4', '3.4.23'],
    ['1.6.20~ds1-1+deb12u3', '1.6.20'],
    ['1.1.5+ds1-1+deb12u1', '1.1.5'],
    ['1.1.1+ds1-3+b5', '1.1.1'],
    ['1:1.35.0-4+deb12u1+b1', '1.35.0'],
    ['2.0.0+dfsg-2', '2.0.0'],
    ['1.2.3', '1.2.3'],
  ])('%s -> %s', (deb, up) => expect(upstreamVersion(deb)).toBe(up));

  it('writes them the way the tool does', () => {
    const m = new Map([
      ['etcd-server', '3.4.23-4+b4'],
      ['containerd', '1.6.20~ds1-1+deb12u3'],
      ['runc', '1.1.5+ds1-1+deb12u1'],
      ['containernetworking-plugins', '1.1.1+ds1-3+b5'],
    ]);
    expect(labVersions(m, null)).toEqual({ etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1', k3s: null });
    expect(() => labVersions(new Map(), null)).toThrow(/etcd-server/);
  });

  it('reads candidate versions from apt-cache show', () => {
    const text = 'Package: runc\nVersion: 1.1.5+ds1-1+deb12u1\nArchitecture: amd64\n\nPackage: etcd-server\nVersion: 3.4.23-4+b4\n';
    expect(parseAptCacheShow(text)).toEqual(new Map([['runc', '1.1.5+ds1-1+deb12u1'], ['etcd-server', '3.4.23-4+b4']]));
  });

  it('reads the version a k3s binary reports', () => {
    expect(parseK3sVersion('k3s version v1.34.3+k3s1 (48ffa7b6)\ngo version go1.24.11\n')).toBe('v1.34.3+k3s1');
    expect(parseK3sVersion('bash: k3s: not found')).toBeNull();
  });
});

describe('offline layout', () => {
  const v = { etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1', k3s: null };
  it('uses the upstream release file names', () => {
    expect(layoutFiles(v, 'amd64')).toEqual([
      'etcd/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz',
      'etcd/v3.4.23/SHA256SUMS',
      'containerd/1.6.20/containerd-1.6.20-linux-amd64.tar.gz',
      'containerd/1.6.20/containerd-1.6.20-linux-amd64.tar.gz.sha256sum',
      'runc/v1.1.5/runc.amd64',
      'runc/v1.1.5/runc.sha256sum',
      'cni/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz',
      'cni/v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz.sha256',
      'images/busybox-oci.tar',
    ]);
  });
  it('adds k3s only when a binary is supplied, with its per-arch names', () => {
    expect(layoutFiles({ ...v, k3s: 'v1.34.3+k3s1' }, 'amd64').slice(-2)).toEqual(['k3s/v1.34.3+k3s1/k3s', 'k3s/v1.34.3+k3s1/sha256sum-amd64.txt']);
    expect([k3sFileName('arm64'), k3sFileName('armhf'), k3sChecksumArch('armhf')]).toEqual(['k3s-arm64', 'k3s-armhf', 'arm']);
  });
});

describe('OCI image documents', () => {
  it('chain by digest: index -> manifest -> config + layer, named docker.io/kubi/busybox:latest', () => {
    const layer = { digest: 'a'.repeat(64), size: 1234 };
    const d = ociDocuments(layer, 'amd64', 'docker.io/kubi/busybox:latest');
    const index = JSON.parse(d.index.toString());
    const manifest = JSON.parse(d.manifest.toString());
    const config = JSON.parse(d.config.toString());
    expect(index.manifests[0].digest).toBe(`sha256:${sha256(d.manifest)}`);
    expect(index.manifests[0].size).toBe(d.manifest.length);
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe('docker.io/kubi/busybox:latest');
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('latest');
    expect(manifest.config.digest).toBe(`sha256:${sha256(d.config)}`);
    expect(manifest.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layer.digest}`, size: 1234 }]);
    expect(config.rootfs.diff_ids).toEqual([`sha256:${layer.digest}`]);
  });
});

describe('flat repository Release file', () => {
  it('lists the sha256 and size of each index', () => {
    const p = Buffer.from('Package: socat\n');
    const r = renderRelease([{ name: 'Packages', content: p }], new Date('2026-01-02T03:04:05Z'));
    expect(r).toContain('Date: Fri, 02 Jan 2026 03:04:05 GMT');
    expect(r).toMatch(new RegExp(`^ ${sha256(p)} +${p.length} Packages$`, 'm'));
  });
});
