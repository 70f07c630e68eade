/**
 * The artifact resolver and extraction on real files: an offline directory built in the test
 * (real tar.gz archives), a mirror served over real HTTP by a local server on 127.0.0.1 that
 * counts requests, tampered and truncated archives, mixed architectures.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ArtifactResolver,
  defaultCacheDir,
  extractBinaries,
  resolveArtifact,
  sourceFromInventory,
  type ArtifactSource,
} from '../../src/artifacts/index.js';
import { V, buildOfflineDir, sha256 } from './offline-fixture.js';

let offline: string;
let scratch: string;
let cacheDir: string;

beforeAll(() => {
  offline = mkdtempSync(path.join(os.tmpdir(), 'kubi-offline-'));
  buildOfflineDir(offline);
});
afterAll(() => rmSync(offline, { recursive: true, force: true }));
beforeEach(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'kubi-cache-'));
  cacheDir = path.join(scratch, 'cache');
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** A private copy of the offline dir, for tests that damage files. */
function offlineCopy(): string {
  const dir = path.join(scratch, 'offline');
  execFileSync('cp', ['-a', offline, dir]);
  return dir;
}

const run = (file: string) => execFileSync(file, { encoding: 'utf8' }).trim();

describe('offline directory', () => {
  it('resolves etcd from the offline dir with its checksum verified, and extracts runnable binaries', async () => {
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
    const etcd = await r.resolve('etcd', V.etcd, 'amd64');
    const archive = path.join(offline, 'etcd', V.etcd, `etcd-${V.etcd}-linux-amd64.tar.gz`);
    expect(etcd).toMatchObject({ path: archive, sha256: sha256(archive), origin: 'offline' });

    const bins = await extractBinaries(etcd, cacheDir);
    expect([...bins.keys()]).toEqual(['/usr/local/bin/etcd', '/usr/local/bin/etcdctl']);
    const e = bins.get('/usr/local/bin/etcd')!;
    expect(run(e.localPath)).toBe('etcd Version: 3.4.23 amd64');
    expect(e.sha256).toBe(sha256(e.localPath));
    expect(e.mode).toBe(0o755);
    expect(e.localPath.startsWith(path.join(cacheDir, 'extracted', 'etcd', V.etcd))).toBe(true);
    // extracted once: a second call reuses the same directory
    const again = await extractBinaries(etcd, cacheDir);
    expect(again.get('/usr/local/bin/etcd')!.localPath).toBe(e.localPath);
  });

  it('every component for amd64 maps to its install paths', async () => {
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
    const paths = async (c: Parameters<typeof r.binaries>[0], v: string) => [...(await r.binaries(c, v, 'amd64')).keys()];
    expect(await paths('k3s', V.k3s)).toEqual(['/usr/local/bin/k3s']);
    expect(await paths('runc', V.runc)).toEqual(['/usr/local/sbin/runc']);
    expect(await paths('containerd', V.containerd)).toEqual([
      '/usr/local/bin/containerd',
      '/usr/local/bin/containerd-shim-runc-v2',
      '/usr/local/bin/ctr',
    ]);
    expect((await paths('cni', V.cni)).sort()).toEqual(
      ['/opt/cni/bin/bridge', '/opt/cni/bin/host-local', '/opt/cni/bin/loopback', '/opt/cni/bin/portmap'],
    );
    expect(await paths('crictl', V.crictl)).toEqual(['/usr/local/bin/crictl']);
    const k3s = (await r.binaries('k3s', V.k3s, 'amd64')).get('/usr/local/bin/k3s')!;
    expect(k3s.localPath).toBe(path.join(offline, 'k3s', V.k3s, 'k3s'));
  });

  it('mixed architectures get their own binary (the key includes the arch)', async () => {
    const r = new ArtifactResolver({ kind: 'offline', dir: offline, cacheDir });
    const a = (await r.binaries('etcd', V.etcd, 'amd64')).get('/usr/local/bin/etcd')!;
    const b = (await r.binaries('etcd', V.etcd, 'arm64')).get('/usr/local/bin/etcd')!;
    expect(run(a.localPath)).toBe('etcd Version: 3.4.23 amd64');
    expect(run(b.localPath)).toBe('etcd Version: 3.4.23 arm64');
    expect(a.sha256).not.toBe(b.sha256);
    const pi = (await r.binaries('k3s', V.k3s, 'armhf')).get('/usr/local/bin/k3s')!;
    expect(run(pi.localPath)).toBe(`k3s version ${V.k3s} armhf`);
    const cniPi = (await r.binaries('cni', V.cni, 'armhf')).get('/opt/cni/bin/bridge')!;
    expect(run(cniPi.localPath)).toBe('bridge arm');
    await expect(r.resolve('etcd', V.etcd, 'armhf')).rejects.toMatchObject({ code: 'artifact-arch-unsupported' });
  });

  it('a tampered archive is refused and nothing is extracted', async () => {
    const dir = offlineCopy();
    appendFileSync(path.join(dir, 'etcd', V.etcd, `etcd-${V.etcd}-linux-amd64.tar.gz`), 'x');
    const r = new ArtifactResolver({ kind: 'offline', dir, cacheDir });
    await expect(r.resolve('etcd', V.etcd, 'amd64')).rejects.toMatchObject({
      code: 'artifact-checksum-mismatch',
      message: expect.stringContaining('but SHA256SUMS says'),
    });
    expect(existsSync(path.join(cacheDir, 'extracted'))).toBe(false);
  });

  it('a truncated archive is refused by its checksum; unpacking one directly fails clearly', async () => {
    const dir = offlineCopy();
    const file = path.join(dir, 'containerd', V.containerd, `containerd-${V.containerd}-linux-amd64.tar.gz`);
    const good = await new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('containerd', V.containerd, 'amd64');
    truncateSync(file, Math.floor(statSync(file).size / 2));
    await expect(new ArtifactResolver({ kind: 'offline', dir, cacheDir }).resolve('containerd', V.containerd, 'amd64')).rejects.toMatchObject({
      code: 'artifact-checksum-mismatch',
    });
    // the checksum layer bypassed on purpose: tar itself refuses the damaged archive
    await expect(extractBinaries({ ...good, sha256: 'f'.repeat(64) }, cacheDir)).rejects.toMatchObject({
      code: 'artifact-extract-failed',
    });
  });

  it('a missing file or checksum file is a clear error naming the layout', async () => {
    const dir = offlineCopy();
    rmSync(path.join(dir, 'runc', V.runc, 'runc.sha256sum'));
    const r = new ArtifactResolver({ kind: 'offline', dir, cacheDir });
    await expect(r.resolve('runc', V.runc, 'amd64')).rejects.toMatchObject({ code: 'artifact-checksum-missing' });
    await expect(r.resolve('etcd', 'v3.5.0', 'amd64')).rejects.toMatchObject({
      code: 'artifact-not-found',
      hint: expect.stringContaining('<dir>/<component>/<version>/'),
    });
  });

  it('an archive without the expected member is refused, naming what it holds', async () => {
    const dir = offlineCopy();
    const folder = path.join(dir, 'crictl', V.crictl);
    const name = `crictl-${V.crictl}-linux-amd64.tar.gz`;
    const src = path.join(scratch, 'wrong');
    execFileSync('mkdir', ['-p', src]);
    writeFileSync(path.join(src, 'critest'), '#!/bin/sh\n', { mode: 0o755 });
    execFileSync('tar', ['-czf', path.join(folder, name), '-C', src, 'critest']);
    writeFileSync(path.join(folder, `${name}.sha256`), `${sha256(path.join(folder, name))}\n`);
    const r = new ArtifactResolver({ kind: 'offline', dir, cacheDir });
    await expect(r.binaries('crictl', V.crictl, 'amd64')).rejects.toMatchObject({
      code: 'artifact-member-missing',
      message: expect.stringContaining('it holds: critest'),
    });
  });
});

describe('mirror over real HTTP on 127.0.0.1', () => {
  let server: http.Server;
  let baseUrl: string;
  const requests: string[] = [];
  /** url path -> replacement body (to serve a tampered file) */
  const overrides = new Map<string, Buffer>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(urlPath);
      const override = overrides.get(urlPath);
      if (override) {
        res.writeHead(200, { 'content-length': override.length });
        res.end(override);
        return;
      }
      const file = path.join(offline, path.normalize(urlPath.replace(/^\/mirror\//, '')));
      if (!urlPath.startsWith('/mirror/') || !file.startsWith(offline) || !existsSync(file) || statSync(file).isDirectory()) {
        res.writeHead(404);
        res.end('not found');
        return;
      }
      const body = readFileSync(file);
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests.length = 0;
    overrides.clear();
  });

  const mirror = (): ArtifactSource => ({ kind: 'mirror', baseUrl, cacheDir });

  it('downloads once into the cache, then serves from the cache (the server counts requests)', async () => {
    const first = await new ArtifactResolver(mirror()).resolve('etcd', V.etcd, 'amd64');
    const cached = path.join(cacheDir, 'etcd', V.etcd, `etcd-${V.etcd}-linux-amd64.tar.gz`);
    expect(first).toMatchObject({ origin: 'download', path: cached });
    expect(first.sha256).toBe(sha256(path.join(offline, 'etcd', V.etcd, `etcd-${V.etcd}-linux-amd64.tar.gz`)));
    expect(requests).toEqual([`/mirror/etcd/${V.etcd}/SHA256SUMS`, `/mirror/etcd/${V.etcd}/etcd-${V.etcd}-linux-amd64.tar.gz`]);

    const second = await new ArtifactResolver(mirror()).resolve('etcd', V.etcd, 'amd64');
    expect(second).toMatchObject({ origin: 'cache', path: cached, sha256: first.sha256 });
    expect(requests).toHaveLength(2);

    // the other arch is another key: only its tarball is fetched (SHA256SUMS is shared and cached)
    await new ArtifactResolver(mirror()).resolve('etcd', V.etcd, 'arm64');
    expect(requests.slice(2)).toEqual([`/mirror/etcd/${V.etcd}/etcd-${V.etcd}-linux-arm64.tar.gz`]);
    expect(readdirSync(path.join(cacheDir, 'etcd', V.etcd)).sort()).toEqual([
      'SHA256SUMS',
      `etcd-${V.etcd}-linux-amd64.tar.gz`,
      `etcd-${V.etcd}-linux-arm64.tar.gz`,
    ]);
  });

  it('concurrent resolves of one key download it once; a version with + is URL-encoded', async () => {
    const r = new ArtifactResolver(mirror());
    const [a, b] = await Promise.all([r.resolve('k3s', V.k3s, 'arm64'), r.resolve('k3s', V.k3s, 'arm64')]);
    expect(a).toBe(b);
    expect(requests).toEqual([`/mirror/k3s/${V.k3s}/sha256sum-arm64.txt`, `/mirror/k3s/${V.k3s}/k3s-arm64`]);
    // cached files are data (0644); the host install sets 0755
    expect(execFileSync('sh', [a.path], { encoding: 'utf8' }).trim()).toBe(`k3s version ${V.k3s} arm64`);
  });

  it('a tampered download is refused and leaves nothing in the cache', async () => {
    overrides.set(`/mirror/runc/${V.runc}/runc.amd64`, Buffer.from('#!/bin/sh\necho evil\n'));
    await expect(new ArtifactResolver(mirror()).resolve('runc', V.runc, 'amd64')).rejects.toMatchObject({
      code: 'artifact-checksum-mismatch',
    });
    expect(readdirSync(path.join(cacheDir, 'runc', V.runc))).toEqual(['runc.sha256sum']);
  });

  it('a damaged cache entry is downloaded again', async () => {
    await new ArtifactResolver(mirror()).resolve('cni', V.cni, 'amd64');
    const cached = path.join(cacheDir, 'cni', V.cni, `cni-plugins-linux-amd64-${V.cni}.tgz`);
    writeFileSync(cached, 'garbage');
    const again = await new ArtifactResolver(mirror()).resolve('cni', V.cni, 'amd64');
    expect(again.origin).toBe('download');
    expect(requests).toHaveLength(3);
    expect(sha256(cached)).toBe(again.sha256);
  });

  it('allowDownload: false (plan mode) uses a verified cache entry but never downloads or writes', async () => {
    const noDl = () => new ArtifactResolver(mirror(), { allowDownload: false });
    await expect(noDl().resolve('etcd', V.etcd, 'amd64')).rejects.toMatchObject({ code: 'artifact-not-cached' });
    expect(requests).toEqual([]);
    expect(existsSync(cacheDir)).toBe(false);
    await new ArtifactResolver(mirror()).resolve('etcd', V.etcd, 'amd64');
    expect((await noDl().resolve('etcd', V.etcd, 'amd64')).origin).toBe('cache');
    expect(requests).toHaveLength(2);
  });

  it('http 404 is a download error that says to check the version', async () => {
    await expect(new ArtifactResolver(mirror()).resolve('etcd', 'v9.9.9', 'amd64')).rejects.toMatchObject({
      code: 'artifact-download-failed',
      message: expect.stringContaining('http 404'),
      hint: expect.stringContaining('version'),
    });
  });

  it('a closed port is a download error naming the URL', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = new ArtifactResolver({ kind: 'mirror', baseUrl: `http://127.0.0.1:${port}`, cacheDir });
    await expect(r.resolve('runc', V.runc, 'amd64')).rejects.toMatchObject({
      code: 'artifact-download-failed',
      message: expect.stringContaining(`http://127.0.0.1:${port}/runc/${V.runc}/runc.sha256sum`),
    });
  });

  it('resolveArtifact shares one resolver per source', async () => {
    const src = mirror();
    const a = await resolveArtifact('crictl', V.crictl, 'amd64', src);
    const b = await resolveArtifact('crictl', V.crictl, 'amd64', { ...src });
    expect(b).toBe(a);
    expect(requests).toHaveLength(2);
  });
});

describe('sourceFromInventory', () => {
  it('offline dir relative to the inventory, mirror, upstream with the XDG cache default', () => {
    expect(sourceFromInventory({ source: 'offline', dir: 'artifacts', cacheDir: '~/c' }, { baseDir: '/inv', home: '/home/u' })).toEqual({
      kind: 'offline',
      dir: '/inv/artifacts',
      cacheDir: '/home/u/c',
    });
    expect(sourceFromInventory({ source: 'upstream', mirrorUrl: 'http://m/' }, { baseDir: '/inv', home: '/h', env: {} })).toEqual({
      kind: 'mirror',
      baseUrl: 'http://m/',
      cacheDir: '/h/.cache/kubi-provision/artifacts',
    });
    expect(sourceFromInventory({ source: 'upstream' }, { baseDir: '/inv', home: '/h', env: { XDG_CACHE_HOME: '/x' } })).toEqual({
      kind: 'upstream',
      cacheDir: '/x/kubi-provision/artifacts',
    });
    expect(defaultCacheDir({}, '/home/a')).toBe('/home/a/.cache/kubi-provision/artifacts');
    expect(() => sourceFromInventory({ source: 'offline' }, { baseDir: '/inv' })).toThrow(
      expect.objectContaining({ code: 'artifact-no-offline-dir' }),
    );
  });
});
