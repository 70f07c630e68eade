/**
 * Resolve an artifact to a verified local file on the workstation.
 *
 * - upstream / mirror: downloaded once per key into the cache
 *   (`<cacheDir>/<component>/<version>/<file>`, default ~/.cache/kubi-provision/artifacts), together
 *   with its checksum file; written to a temp file, verified by sha256, then renamed into place.
 *   A cached file is verified again on every resolve (a damaged one is downloaded again).
 * - offline: the file is read from the offline directory (same layout), its checksum still verified.
 * A file whose sha256 does not match its checksum file is refused, never returned. The sha256 of
 * a local file comes from a record under `<cacheDir>/verified/` while the file is provably
 * untouched (hash-record.ts), so a converged run does not hash every archive again; the checksum
 * file itself is read and compared every time.
 * Within one resolver a key (component, version, arch) is resolved once, even when asked concurrently.
 */
import { randomBytes, createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Arch, Inventory } from '../inventory/schema.js';
import { ensureDir, renameAtomic, writeFileAtomic } from '../fs-atomic.js';
import { ArtifactError, artifactFor, mirrorUrl, type ArtifactSpec, type Component } from './catalogue.js';
import { expectedSha256 } from './checksums.js';
import { extractBinaries, type ExtractedBinary } from './extract.js';
import { fileIdentity, recordedSha256, writeRecord, type RecordMode } from './hash-record.js';

export type ArtifactSource =
  | { kind: 'upstream'; cacheDir: string }
  | { kind: 'mirror'; baseUrl: string; cacheDir: string }
  | { kind: 'offline'; dir: string; cacheDir: string };

export interface ResolvedArtifact {
  spec: ArtifactSpec;
  /** verified local file (in the cache, or in the offline directory) */
  path: string;
  sha256: string;
  size: number;
  /** where it came from this time */
  origin: 'cache' | 'download' | 'offline';
}

export interface ResolverOptions {
  /** injected fetch (default: Node's global fetch) */
  fetch?: typeof fetch;
  /** per-request timeout (default 10 minutes: k3s is ~70 MB) */
  timeoutMs?: number;
  /**
   * false: never download (plan mode); a file that is not verified in the cache is an
   * `artifact-not-cached` error and nothing is written. Default true.
   */
  allowDownload?: boolean;
  /**
   * sha256 records of verified local files (see hash-record.ts): 'read' uses them but writes
   * none, 'off' always hashes. Default: 'read-write', or 'read' when allowDownload is false.
   */
  hashRecords?: RecordMode;
}

/** ~/.cache/kubi-provision/artifacts, honouring $XDG_CACHE_HOME. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
  return path.join(base, 'kubi-provision', 'artifacts');
}

function expandHome(p: string, home: string): string {
  return p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p;
}

/** The source described by the inventory's `artifacts` section; relative paths are resolved against `baseDir`. */
export function sourceFromInventory(
  artifacts: Inventory['artifacts'],
  opts: { baseDir: string; home?: string; env?: NodeJS.ProcessEnv },
): ArtifactSource {
  const home = opts.home ?? os.homedir();
  const abs = (p: string) => path.resolve(opts.baseDir, expandHome(p, home));
  const cacheDir = artifacts.cacheDir ? abs(artifacts.cacheDir) : defaultCacheDir(opts.env, home);
  if (artifacts.source === 'offline') {
    if (!artifacts.dir) {
      throw new ArtifactError('artifact-no-offline-dir', 'artifacts.source is offline but artifacts.dir is not set', 'set artifacts.dir to the offline directory');
    }
    return { kind: 'offline', dir: abs(artifacts.dir), cacheDir };
  }
  if (artifacts.mirrorUrl) return { kind: 'mirror', baseUrl: artifacts.mirrorUrl, cacheDir };
  return { kind: 'upstream', cacheDir };
}

const LAYOUT_HINT =
  'an offline directory holds <dir>/<component>/<version>/<upstream file name> plus the upstream checksum file beside it';

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export class ArtifactResolver {
  readonly source: ArtifactSource;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly allowDownload: boolean;
  private readonly hashRecords: RecordMode;
  private readonly memo = new Map<string, Promise<ResolvedArtifact>>();

  constructor(source: ArtifactSource, opts: ResolverOptions = {}) {
    this.source = source;
    this.fetchFn = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 10 * 60 * 1000;
    this.allowDownload = opts.allowDownload ?? true;
    this.hashRecords = opts.hashRecords ?? (this.allowDownload ? 'read-write' : 'read');
  }

  /** where the sha256 records of verified files live (hash-record.ts) */
  get recordDir(): string {
    return path.join(this.cacheDir, 'verified');
  }

  /** sha256 and size of a local file (from its record while the file is untouched) */
  private hashOf(file: string): Promise<{ sha256: string; size: number }> {
    return recordedSha256(file, { dir: this.recordDir, mode: this.hashRecords });
  }

  get cacheDir(): string {
    return this.source.cacheDir;
  }

  /** The verified local file for one component, version and architecture (once per key). */
  resolve(component: Component, version: string, arch: Arch | 'unknown'): Promise<ResolvedArtifact> {
    let spec: ArtifactSpec;
    try {
      spec = artifactFor(component, version, arch);
    } catch (e) {
      return Promise.reject(e);
    }
    const key = `${component}\0${version}\0${arch}`;
    let p = this.memo.get(key);
    if (!p) {
      p = this.resolveSpec(spec);
      this.memo.set(key, p);
      p.catch(() => this.memo.delete(key));
    }
    return p;
  }

  /** resolve + extractBinaries: install path -> local binary with its sha256 (archives unpacked once under the cache). */
  async binaries(component: Component, version: string, arch: Arch | 'unknown'): Promise<Map<string, ExtractedBinary>> {
    return extractBinaries(await this.resolve(component, version, arch), this.cacheDir);
  }

  private async resolveSpec(spec: ArtifactSpec): Promise<ResolvedArtifact> {
    if (this.source.kind === 'offline') return this.fromOffline(spec, this.source.dir);
    return this.fromCacheOrDownload(spec);
  }

  private async fromOffline(spec: ArtifactSpec, dir: string): Promise<ResolvedArtifact> {
    const folder = path.join(dir, spec.relativeDir);
    const file = path.join(folder, spec.fileName);
    const sumFile = path.join(folder, spec.checksumFileName);
    if (!(await exists(file))) {
      throw new ArtifactError('artifact-not-found', `${file} is missing from the offline directory`, LAYOUT_HINT);
    }
    if (!(await exists(sumFile))) {
      throw new ArtifactError(
        'artifact-checksum-missing',
        `${sumFile} is missing: ${spec.fileName} cannot be verified`,
        `${LAYOUT_HINT}; files without a checksum are never installed`,
      );
    }
    const expected = expectedSha256(spec, await fs.readFile(sumFile, 'utf8'));
    const actual = await this.hashOf(file);
    if (actual.sha256 !== expected) throw mismatch(file, actual.sha256, expected, spec);
    return { spec, path: file, sha256: actual.sha256, size: actual.size, origin: 'offline' };
  }

  private urls(spec: ArtifactSpec): { file: string; sums: string } {
    if (this.source.kind === 'mirror') {
      return {
        file: mirrorUrl(this.source.baseUrl, spec, spec.fileName),
        sums: mirrorUrl(this.source.baseUrl, spec, spec.checksumFileName),
      };
    }
    return { file: spec.upstreamUrl, sums: spec.checksumUpstreamUrl };
  }

  private async fromCacheOrDownload(spec: ArtifactSpec): Promise<ResolvedArtifact> {
    const folder = path.join(this.cacheDir, spec.relativeDir);
    const file = path.join(folder, spec.fileName);
    const sumFile = path.join(folder, spec.checksumFileName);
    const urls = this.urls(spec);
    const cached = (await exists(sumFile)) && (await exists(file));
    if (cached) {
      const expected = expectedSha256(spec, await fs.readFile(sumFile, 'utf8'));
      const actual = await this.hashOf(file);
      if (actual.sha256 === expected) return { spec, path: file, sha256: actual.sha256, size: actual.size, origin: 'cache' };
    }
    if (!this.allowDownload) {
      throw new ArtifactError(
        'artifact-not-cached',
        `${spec.fileName} is not (intact) in the cache ${folder}`,
        'run without plan mode to download and verify it',
      );
    }
    await ensureDir(folder, 0o755);
    if (!(await exists(sumFile))) {
      const text = (await this.download(urls.sums)).toString('utf8');
      expectedSha256(spec, text); // refuse a checksum file that does not name our file before caching it
      await writeFileAtomic(sumFile, text, 0o644);
    }
    const expected = expectedSha256(spec, await fs.readFile(sumFile, 'utf8'));

    if (await exists(file)) {
      const actual = await this.hashOf(file);
      if (actual.sha256 === expected) return { spec, path: file, sha256: actual.sha256, size: actual.size, origin: 'cache' };
      await fs.rm(file, { force: true }); // damaged cache entry: fetch it again
    }

    const tmp = path.join(folder, `.${spec.fileName}.part-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const { sha256, size } = await this.downloadToFile(urls.file, tmp);
      if (sha256 !== expected) throw mismatch(urls.file, sha256, expected, spec);
      await fs.chmod(tmp, 0o644);
      await renameAtomic(tmp, file);
      // hashed as it was written: record it, so the next run need not hash it
      if (this.hashRecords === 'read-write') await writeRecord(this.recordDir, file, (await fileIdentity(file)).text, sha256);
      return { spec, path: file, sha256, size, origin: 'download' };
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  private async request(url: string): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(url, { redirect: 'follow', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new ArtifactError(
        'artifact-download-failed',
        `could not download ${url}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`,
        'check the network, or use an offline directory (artifacts.source: offline) or a mirror (artifacts.mirrorUrl)',
        { cause: e },
      );
    }
    if (!res.ok || !res.body) {
      throw new ArtifactError(
        'artifact-download-failed',
        `could not download ${url}: http ${res.status}`,
        res.status === 404 ? 'check the version in the inventory: that release file does not exist' : 'try again later, or use an offline directory',
      );
    }
    return res;
  }

  private async download(url: string): Promise<Buffer> {
    const res = await this.request(url);
    return Buffer.from(await res.arrayBuffer());
  }

  private async downloadToFile(url: string, dest: string): Promise<{ sha256: string; size: number }> {
    const res = await this.request(url);
    const hash = createHash('sha256');
    let size = 0;
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
    try {
      await pipeline(body, out);
    } catch (e) {
      throw new ArtifactError('artifact-download-failed', `download of ${url} broke off: ${e instanceof Error ? e.message : String(e)}`, 'try again', {
        cause: e,
      });
    }
    const fh = await fs.open(dest, 'r+');
    await fh.sync();
    await fh.close();
    return { sha256: hash.digest('hex'), size };
  }
}

function mismatch(where: string, actual: string, expected: string, spec: ArtifactSpec): ArtifactError {
  return new ArtifactError(
    'artifact-checksum-mismatch',
    `sha256 of ${where} is ${actual}, but ${spec.checksumFileName} says ${expected}`,
    'the file is damaged or not the release it claims to be: it was not installed. Replace it with the real release file',
  );
}

const shared = new Map<string, ArtifactResolver>();

/**
 * Resolve through a resolver shared per source (so a key is downloaded once per process).
 * Returns the verified local file and its sha256.
 */
export function resolveArtifact(
  component: Component,
  version: string,
  arch: Arch | 'unknown',
  source: ArtifactSource,
): Promise<ResolvedArtifact> {
  const key = JSON.stringify(source);
  let resolver = shared.get(key);
  if (!resolver) {
    resolver = new ArtifactResolver(source);
    shared.set(key, resolver);
  }
  return resolver.resolve(component, version, arch);
}
