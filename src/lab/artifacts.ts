/**
 * The lab's offline artifacts directory, built from Debian's .deb files (etcd-server, etcd-client,
 * containerd, runc, containernetworking-plugins, busybox-static) and repacked into EXACTLY the
 * offline layout the tool accepts from users (an airgap bundle mirroring upstream release file names
 * and checksum files):
 *
 *   etcd/<v>/etcd-<v>-linux-<arch>.tar.gz (+ SHA256SUMS)          top dir etcd-<v>-linux-<arch>/
 *   containerd/<v>/containerd-<v>-linux-<arch>.tar.gz (+ .sha256sum)   bin/containerd, bin/ctr, ...
 *   runc/<v>/runc.<arch> (+ runc.sha256sum)
 *   cni/<v>/cni-plugins-linux-<arch>-<v>.tgz (+ .sha256)            ./bridge ./host-local ...
 *   k3s/<v>/k3s (+ sha256sum-<arch>.txt)                           only when a k3s binary is supplied
 *   images/busybox-oci.tar                                         docker.io/kubi/busybox:latest
 *
 * Versions come from the .deb versions (etcd v3.4.23, containerd 1.6.20, runc v1.1.5, cni v1.1.1 on
 * Debian 12). Debian 12 has no cri-tools package, so there is no crictl. Cached per deb versions
 * (and k3s binary checksum) in <cache>/artifacts/<key>/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubiError } from '../errors.js';
import type { LocalRunner } from './exec.js';
import { sha256, sha256File } from './fsutil.js';
import { buildBusyboxOci } from './oci.js';
import { candidateVersions } from './repo.js';

/** bump when the layout or packing changes */
export const ARTIFACTS_LAYOUT_VERSION = 1;

export const ARTIFACT_DEBS = ['etcd-server', 'etcd-client', 'containerd', 'runc', 'containernetworking-plugins', 'busybox-static'] as const;

export interface LabVersions {
  etcd: string;
  containerd: string;
  runc: string;
  cni: string;
  k3s: string | null;
}

/** The upstream version inside a Debian version: no epoch, no revision, no ~ds/+ds/+dfsg repack suffix (pure). */
export function upstreamVersion(debVersion: string): string {
  let v = debVersion.replace(/^\d+:/, '');
  const dash = v.lastIndexOf('-');
  if (dash > 0) v = v.slice(0, dash);
  return v.replace(/[~+](ds|dfsg)\d*$/, '');
}

/** Versions as the tool writes them (pure). */
export function labVersions(debVersions: ReadonlyMap<string, string>, k3s: string | null): LabVersions {
  const get = (p: string) => {
    const v = debVersions.get(p);
    if (!v) throw new KubiError('lab-artifacts', `no version known for the debian package ${p}`);
    return upstreamVersion(v);
  };
  return { etcd: `v${get('etcd-server')}`, containerd: get('containerd'), runc: `v${get('runc')}`, cni: `v${get('containernetworking-plugins')}`, k3s };
}

/** k3s release file names per architecture (pure). */
export function k3sFileName(arch: string): string {
  return arch === 'amd64' ? 'k3s' : arch === 'arm64' ? 'k3s-arm64' : 'k3s-armhf';
}

export function k3sChecksumArch(arch: string): string {
  return arch === 'armhf' ? 'arm' : arch;
}

/** The relative paths of every file of the layout for one architecture (pure; tests check the tree against it). */
export function layoutFiles(v: LabVersions, arch: string): string[] {
  const files = [
    `etcd/${v.etcd}/etcd-${v.etcd}-linux-${arch}.tar.gz`,
    `etcd/${v.etcd}/SHA256SUMS`,
    `containerd/${v.containerd}/containerd-${v.containerd}-linux-${arch}.tar.gz`,
    `containerd/${v.containerd}/containerd-${v.containerd}-linux-${arch}.tar.gz.sha256sum`,
    `runc/${v.runc}/runc.${arch}`,
    `runc/${v.runc}/runc.sha256sum`,
    `cni/${v.cni}/cni-plugins-linux-${arch}-${v.cni}.tgz`,
    `cni/${v.cni}/cni-plugins-linux-${arch}-${v.cni}.tgz.sha256`,
    'images/busybox-oci.tar',
  ];
  if (v.k3s) files.push(`k3s/${v.k3s}/${k3sFileName(arch)}`, `k3s/${v.k3s}/sha256sum-${k3sChecksumArch(arch)}.txt`);
  return files;
}

export interface ArtifactsResult {
  dir: string;
  versions: LabVersions;
  arch: string;
  built: boolean;
}

const TAR_FLAGS = ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0'];

/** `<sha256>  <name>\n` (two spaces, as sha256sum writes it). */
async function checksumLine(file: string): Promise<string> {
  return `${await sha256File(file)}  ${path.basename(file)}\n`;
}

/** Read the k3s version a binary reports (`k3s --version`: "k3s version v1.34.3+k3s1 (...)"). */
export function parseK3sVersion(output: string): string | null {
  return /k3s version (v\d+\.\d+\.\d+\+k3s\d+)/.exec(output)?.[1] ?? null;
}

export async function ensureArtifacts(
  cacheDir: string,
  arch: string,
  k3sBinary: string | null,
  runner: LocalRunner,
  say: (l: string) => void,
): Promise<ArtifactsResult> {
  const debVersions = await candidateVersions(ARTIFACT_DEBS, runner);
  let k3sVersion: string | null = null;
  let k3sSha: string | null = null;
  if (k3sBinary) {
    if (!existsSync(k3sBinary)) throw new KubiError('lab-k3s-binary', `the k3s binary ${k3sBinary} does not exist`, { hint: 'pass --k3s-binary PATH or set KUBI_K3S_BINARY' });
    const r = await runner.run([k3sBinary, '--version'], { allowFailure: true, timeoutMs: 30_000 });
    k3sVersion = parseK3sVersion(r.stdout);
    if (!k3sVersion) throw new KubiError('lab-k3s-binary', `cannot read the version of ${k3sBinary}`, { hint: `\`${k3sBinary} --version\` printed: ${(r.stdout || r.stderr).trim().slice(0, 200)}` });
    k3sSha = await sha256File(k3sBinary);
  }
  const versions = labVersions(debVersions, k3sVersion);
  const key = sha256(JSON.stringify({ layout: ARTIFACTS_LAYOUT_VERSION, arch, debs: [...debVersions.entries()].sort(), k3sSha })).slice(0, 16);
  const dir = path.join(cacheDir, 'artifacts', key);
  if (existsSync(path.join(dir, 'ready'))) return { dir, versions, arch, built: false };

  say(`building the lab artifacts directory from debian packages (etcd ${versions.etcd}, containerd ${versions.containerd}, runc ${versions.runc}, cni ${versions.cni}${k3sVersion ? `, k3s ${k3sVersion}` : ''})`);
  const tmp = path.join(cacheDir, 'artifacts', `${key}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const work = await mkdtemp(path.join(os.tmpdir(), 'kubi-artifacts-'));
  try {
    const debsDir = path.join(work, 'debs');
    await mkdir(debsDir);
    await runner.run(['apt-get', '-o', 'APT::Sandbox::User=root', 'download', ...ARTIFACT_DEBS.map((p) => `${p}=${debVersions.get(p)}`)], { cwd: debsDir, timeoutMs: 600_000 });
    const x = path.join(work, 'x');
    await mkdir(x);
    for (const deb of readdirSync(debsDir).filter((f) => f.endsWith('.deb'))) {
      const pkg = deb.slice(0, deb.indexOf('_'));
      await runner.run(['dpkg-deb', '-x', path.join(debsDir, deb), path.join(x, pkg)]);
    }
    const from = (pkg: string, rel: string) => {
      const p = path.join(x, pkg, rel);
      if (!existsSync(p)) throw new KubiError('lab-artifacts', `the debian package ${pkg} has no ${rel}`);
      return p;
    };

    // etcd: etcd-<v>-linux-<arch>/{etcd,etcdctl}
    {
      const d = path.join(tmp, 'etcd', versions.etcd);
      const top = `etcd-${versions.etcd}-linux-${arch}`;
      const stage = path.join(work, 'etcd', top);
      await mkdir(stage, { recursive: true });
      await copyFile(from('etcd-server', 'usr/bin/etcd'), path.join(stage, 'etcd'));
      await copyFile(from('etcd-client', 'usr/bin/etcdctl'), path.join(stage, 'etcdctl'));
      await chmod(path.join(stage, 'etcd'), 0o755);
      await chmod(path.join(stage, 'etcdctl'), 0o755);
      await mkdir(d, { recursive: true });
      const tgz = path.join(d, `${top}.tar.gz`);
      await runner.run(['tar', ...TAR_FLAGS, '-C', path.join(work, 'etcd'), '-czf', tgz, top], { env: { GZIP: '-n' } });
      await writeFile(path.join(d, 'SHA256SUMS'), await checksumLine(tgz));
    }
    // containerd: bin/containerd, bin/containerd-shim*, bin/ctr
    {
      const d = path.join(tmp, 'containerd', versions.containerd);
      const stage = path.join(work, 'containerd');
      await mkdir(path.join(stage, 'bin'), { recursive: true });
      const bins = readdirSync(path.join(x, 'containerd', 'usr/bin')).filter((b) => b === 'containerd' || b === 'ctr' || b.startsWith('containerd-shim'));
      for (const b of ['containerd', 'containerd-shim-runc-v2', 'ctr']) if (!bins.includes(b)) throw new KubiError('lab-artifacts', `the containerd package has no ${b}`);
      for (const b of bins) {
        await copyFile(path.join(x, 'containerd', 'usr/bin', b), path.join(stage, 'bin', b));
        await chmod(path.join(stage, 'bin', b), 0o755);
      }
      await mkdir(d, { recursive: true });
      const tgz = path.join(d, `containerd-${versions.containerd}-linux-${arch}.tar.gz`);
      await runner.run(['tar', ...TAR_FLAGS, '-C', stage, '-czf', tgz, 'bin'], { env: { GZIP: '-n' } });
      await writeFile(`${tgz}.sha256sum`, await checksumLine(tgz));
    }
    // runc: a bare binary runc.<arch>
    {
      const d = path.join(tmp, 'runc', versions.runc);
      await mkdir(d, { recursive: true });
      const bin = path.join(d, `runc.${arch}`);
      await copyFile(from('runc', 'usr/sbin/runc'), bin);
      await chmod(bin, 0o755);
      await writeFile(path.join(d, 'runc.sha256sum'), await checksumLine(bin));
    }
    // cni: ./bridge ./host-local ... at the top of the archive
    {
      const d = path.join(tmp, 'cni', versions.cni);
      await mkdir(d, { recursive: true });
      const src = from('containernetworking-plugins', 'usr/lib/cni');
      const plugins = readdirSync(src).sort();
      const tgz = path.join(d, `cni-plugins-linux-${arch}-${versions.cni}.tgz`);
      await runner.run(['tar', ...TAR_FLAGS, '-C', src, '-czf', tgz, ...plugins.map((p) => `./${p}`)], { env: { GZIP: '-n' } });
      await writeFile(`${tgz}.sha256`, await checksumLine(tgz));
    }
    // k3s, only when supplied
    if (k3sBinary && k3sVersion) {
      const d = path.join(tmp, 'k3s', k3sVersion);
      await mkdir(d, { recursive: true });
      const bin = path.join(d, k3sFileName(arch));
      await copyFile(k3sBinary, bin);
      await chmod(bin, 0o755);
      await writeFile(path.join(d, `sha256sum-${k3sChecksumArch(arch)}.txt`), await checksumLine(bin));
    }
    // the test image
    await mkdir(path.join(tmp, 'images'), { recursive: true });
    await buildBusyboxOci(from('busybox-static', 'bin/busybox'), arch, path.join(tmp, 'images', 'busybox-oci.tar'), runner);

    await writeFile(path.join(tmp, 'versions.json'), `${JSON.stringify({ versions, debs: Object.fromEntries(debVersions), arch }, null, 2)}\n`);
    await writeFile(path.join(tmp, 'ready'), `${new Date().toISOString()}\n`);
    if (existsSync(path.join(dir, 'ready'))) {
      // another lab process finished the same directory first (and may be serving it): keep theirs
      await rm(tmp, { recursive: true, force: true });
    } else {
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { dir, versions, arch, built: true };
}
