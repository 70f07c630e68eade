/** Checksum file parsers, one case per upstream format. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { artifactFor, expectedSha256, parseChecksumFile } from '../../src/artifacts/index.js';

const h = (s: string) => createHash('sha256').update(s).digest('hex');

describe('checksum formats', () => {
  it('etcd SHA256SUMS (shasum -a 256 list): picks our tarball among all platforms', () => {
    const text = [
      `${h('a')}  etcd-v3.4.23-darwin-amd64.zip`,
      `${h('b')}  etcd-v3.4.23-linux-amd64.tar.gz`,
      `${h('c')}  etcd-v3.4.23-linux-arm64.tar.gz`,
      '',
    ].join('\n');
    expect(expectedSha256(artifactFor('etcd', 'v3.4.23', 'arm64'), text)).toBe(h('c'));
  });

  it('k3s sha256sum-arm.txt: the binary line among airgap lines', () => {
    const text = `${h('x')}  k3s-airgap-images-arm.tar.zst\n${h('y')}  k3s-armhf\n${h('z')}  k3s-images.txt\n`;
    expect(expectedSha256(artifactFor('k3s', 'v1.34.3+k3s1', 'armhf'), text)).toBe(h('y'));
  });

  it('runc.sha256sum with binary-mode markers', () => {
    const text = `${h('1')} *runc.amd64\n${h('2')} *runc.arm64\n${h('3')} *runc.armhf\n`;
    expect(expectedSha256(artifactFor('runc', 'v1.1.5', 'armhf'), text)).toBe(h('3'));
  });

  it('containerd <file>.sha256sum and CNI <file>.tgz.sha256: one named line (path prefix tolerated)', () => {
    expect(
      expectedSha256(artifactFor('containerd', '1.6.20', 'arm64'), `${h('c')}  containerd-1.6.20-linux-arm64.tar.gz\n`),
    ).toBe(h('c'));
    expect(
      expectedSha256(artifactFor('cni', 'v1.1.1', 'amd64'), `${h('n')}  ./release-v1.1.1/cni-plugins-linux-amd64-v1.1.1.tgz\n`),
    ).toBe(h('n'));
  });

  it('crictl .sha256: a bare hash (upper-case hex normalised)', () => {
    expect(expectedSha256(artifactFor('crictl', 'v1.34.0', 'amd64'), `${h('k').toUpperCase()}\n`)).toBe(h('k'));
  });

  it('BSD style lines', () => {
    expect(parseChecksumFile(`SHA256 (runc.amd64) = ${h('q')}\n`)).toEqual([{ sha256: h('q'), name: 'runc.amd64' }]);
  });

  it('refuses a checksum file that does not name our file, and a bare hash for a list file', () => {
    const spec = artifactFor('etcd', 'v3.4.23', 'amd64');
    expect(() => expectedSha256(spec, `${h('b')}  etcd-v3.4.23-linux-arm64.tar.gz\n`)).toThrow(
      expect.objectContaining({ code: 'artifact-checksum-missing' }),
    );
    expect(() => expectedSha256(spec, `${h('b')}\n`)).toThrow(expect.objectContaining({ code: 'artifact-checksum-missing' }));
    expect(() => expectedSha256(artifactFor('crictl', 'v1.34.0', 'amd64'), `${h('a')}  crictl-v1.34.0-linux-arm64.tar.gz\n`)).toThrow(
      /has no sha256 for crictl-v1.34.0-linux-amd64.tar.gz/,
    );
  });

  it('ignores junk lines and short hashes', () => {
    expect(parseChecksumFile('# comment\nnot a hash  file\nabc123  short\n')).toEqual([]);
  });
});
