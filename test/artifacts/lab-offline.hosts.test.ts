/**
 * The resolver against the lab's REAL offline directory: built by src/lab/artifacts.ts from
 * Debian 12's packages (etcd 3.4.23, containerd 1.6.20, runc 1.1.5, CNI plugins 1.1.1) in the
 * upstream layout. Proves the two agree on the layout and checksum files, and that the extracted
 * binaries are the real programs (they run and report their versions).
 * Slow the first time (apt-get download from the Debian archive), cached afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactResolver } from '../../src/artifacts/index.js';
import { defaultCacheDir } from '../../src/lab/config.js';
import { ensureArtifacts, type ArtifactsResult } from '../../src/lab/artifacts.js';
import { LocalRunner } from '../../src/lab/exec.js';

let lab: ArtifactsResult;
let scratch: string;
let resolver: ArtifactResolver;

beforeAll(async () => {
  lab = await ensureArtifacts(defaultCacheDir(), 'amd64', null, new LocalRunner(null), () => undefined);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kubi-lab-art-'));
  resolver = new ArtifactResolver({ kind: 'offline', dir: lab.dir, cacheDir: scratch });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const out = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync(file, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

describe('the lab offline directory (Debian 12 builds)', () => {
  it('etcd: verified, etcd and etcdctl extracted and runnable', async () => {
    const bins = await resolver.binaries('etcd', lab.versions.etcd, 'amd64');
    expect([...bins.keys()]).toEqual(['/usr/local/bin/etcd', '/usr/local/bin/etcdctl']);
    expect(out(bins.get('/usr/local/bin/etcd')!.localPath, ['--version'])).toMatch(/etcd Version: 3\.4\.23/);
    expect(out(bins.get('/usr/local/bin/etcdctl')!.localPath, ['version'], { ETCDCTL_API: '3' })).toMatch(/etcdctl version: 3\.4\.23/);
  });

  it('containerd: the three binaries, containerd reports 1.6.20', async () => {
    const bins = await resolver.binaries('containerd', lab.versions.containerd, 'amd64');
    expect([...bins.keys()]).toEqual(['/usr/local/bin/containerd', '/usr/local/bin/containerd-shim-runc-v2', '/usr/local/bin/ctr']);
    expect(out(bins.get('/usr/local/bin/containerd')!.localPath, ['--version'])).toMatch(/1\.6\.20/);
  });

  it('runc: the bare binary, version 1.1.5', async () => {
    const bins = await resolver.binaries('runc', lab.versions.runc, 'amd64');
    const runc = bins.get('/usr/local/sbin/runc')!;
    expect(out('sh', ['-c', `cp "$0" "$1" && chmod 755 "$1" && "$1" --version`, runc.localPath, path.join(scratch, 'runc')])).toMatch(
      /runc version 1\.1\.5/,
    );
  });

  it('cni: every plugin into /opt/cni/bin, and bridge answers the CNI VERSION command', async () => {
    const bins = await resolver.binaries('cni', lab.versions.cni, 'amd64');
    const paths = [...bins.keys()];
    for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) expect(paths).toContain(`/opt/cni/bin/${p}`);
    const version = JSON.parse(out(bins.get('/opt/cni/bin/bridge')!.localPath, [], { CNI_COMMAND: 'VERSION' })) as {
      supportedVersions: string[];
    };
    expect(version.supportedVersions).toContain('1.0.0');
  });
});
