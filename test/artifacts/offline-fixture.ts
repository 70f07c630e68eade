/**
 * Builds a small but real offline directory in the exact layout the tool expects, with real
 * tar.gz archives (system tar) and checksum files in each upstream format. The "binaries" are
 * tiny shell scripts that print who they are, so a test can run what it extracted.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const V = { etcd: 'v3.4.23', containerd: '1.6.20', runc: 'v1.1.5', cni: 'v1.1.1', k3s: 'v1.34.3+k3s1', crictl: 'v1.34.0' };

export const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function script(file: string, says: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\necho '${says}'\n`);
  chmodSync(file, 0o755);
}

/** tar -czf <archive> -C <dir> <entries...> */
function tgz(archive: string, dir: string, entries: string[]): void {
  mkdirSync(path.dirname(archive), { recursive: true });
  execFileSync('tar', ['-czf', archive, '-C', dir, ...entries]);
}

export function buildOfflineDir(root: string): void {
  const work = mkdtempSync(path.join(os.tmpdir(), 'kubi-art-src-'));
  try {
    // etcd: <dir>/etcd/<v>/etcd-<v>-linux-<arch>.tar.gz + SHA256SUMS (one list for all arches)
    const etcdDir = path.join(root, 'etcd', V.etcd);
    const sums: string[] = [];
    for (const arch of ['amd64', 'arm64']) {
      const top = `etcd-${V.etcd}-linux-${arch}`;
      script(path.join(work, top, 'etcd'), `etcd Version: 3.4.23 ${arch}`);
      script(path.join(work, top, 'etcdctl'), `etcdctl version: 3.4.23 ${arch}`);
      writeFileSync(path.join(work, top, 'README.md'), 'etcd\n');
      const archive = path.join(etcdDir, `${top}.tar.gz`);
      tgz(archive, work, [top]);
      sums.push(`${sha256(archive)}  ${top}.tar.gz`);
    }
    writeFileSync(path.join(etcdDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);

    // containerd: bin/ inside, <file>.sha256sum with the file name
    for (const arch of ['amd64', 'arm64']) {
      const d = path.join(work, `containerd-${arch}`);
      for (const b of ['containerd', 'containerd-shim-runc-v2', 'ctr', 'containerd-stress']) script(path.join(d, 'bin', b), `${b} ${arch}`);
      const name = `containerd-${V.containerd}-linux-${arch}.tar.gz`;
      const archive = path.join(root, 'containerd', V.containerd, name);
      tgz(archive, d, ['bin']);
      writeFileSync(`${archive}.sha256sum`, `${sha256(archive)}  ${name}\n`);
    }

    // runc: bare binaries runc.<arch> + one runc.sha256sum list (binary-mode '*' marker)
    const runcDir = path.join(root, 'runc', V.runc);
    const runcSums: string[] = [];
    for (const arch of ['amd64', 'arm64', 'armhf']) {
      const f = path.join(runcDir, `runc.${arch}`);
      script(f, `runc version 1.1.5 ${arch}`);
      runcSums.push(`${sha256(f)} *runc.${arch}`);
    }
    writeFileSync(path.join(runcDir, 'runc.sha256sum'), `${runcSums.join('\n')}\n`);

    // cni: flat ./<plugin> entries, arch "arm" for armhf; <file>.sha256 with the file name
    for (const goarch of ['amd64', 'arm64', 'arm']) {
      const d = path.join(work, `cni-${goarch}`);
      for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) script(path.join(d, p), `${p} ${goarch}`);
      writeFileSync(path.join(d, 'LICENSE'), 'Apache-2.0\n');
      const name = `cni-plugins-linux-${goarch}-${V.cni}.tgz`;
      const archive = path.join(root, 'cni', V.cni, name);
      tgz(archive, d, ['.']);
      writeFileSync(`${archive}.sha256`, `${sha256(archive)}  ${name}\n`);
    }

    // k3s: bare k3s / k3s-arm64 / k3s-armhf + sha256sum-<amd64|arm64|arm>.txt (with airgap lines too)
    const k3sDir = path.join(root, 'k3s', V.k3s);
    for (const [arch, file, sumName] of [
      ['amd64', 'k3s', 'amd64'],
      ['arm64', 'k3s-arm64', 'arm64'],
      ['armhf', 'k3s-armhf', 'arm'],
    ] as const) {
      const f = path.join(k3sDir, file);
      script(f, `k3s version ${V.k3s} ${arch}`);
      const airgap = createHash('sha256').update(`airgap-${sumName}`).digest('hex');
      writeFileSync(
        path.join(k3sDir, `sha256sum-${sumName}.txt`),
        `${airgap}  k3s-airgap-images-${sumName}.tar.gz\n${sha256(f)}  ${file}\n`,
      );
    }

    // crictl: crictl at the top; <file>.sha256 holding only the hash
    for (const goarch of ['amd64', 'arm64', 'arm']) {
      const d = path.join(work, `crictl-${goarch}`);
      script(path.join(d, 'crictl'), `crictl version ${V.crictl} ${goarch}`);
      const name = `crictl-${V.crictl}-linux-${goarch}.tar.gz`;
      const archive = path.join(root, 'crictl', V.crictl, name);
      tgz(archive, d, ['crictl']);
      writeFileSync(`${archive}.sha256`, `${sha256(archive)}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
