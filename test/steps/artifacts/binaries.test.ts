/**
 * Binaries for host steps (src/steps/artifacts/binaries.ts) on the real offline fixture: their
 * bytes are read only when a change needs them (a converged plan compares sha256s and reads
 * nothing), and a binary changed on disk after it was verified is refused when it is read.
 * Plan mode takes an archive already unpacked in the cache as it is, and writes nothing.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterContext } from '../../../src/engine/types.js';
import { binariesFor, binaryFile } from '../../../src/steps/artifacts/binaries.js';
import { planFiles, type Observation, type ObservedFile } from '../../../src/steps/lib/index.js';
import { V, buildOfflineDir, sha256 } from '../../artifacts/offline-fixture.js';
import { clusterOf, threeNodes } from '../host/context.js';

let work: string;
let offline: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-binaries-'));
  offline = path.join(work, 'offline');
  buildOfflineDir(offline);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cluster(mode: 'plan' | 'apply', cacheDir: string): ClusterContext {
  const inv = threeNodes({ artifacts: { source: 'offline', dir: offline, cacheDir } });
  return clusterOf(inv, { mode, inventoryPath: path.join(work, 'inventory.yaml') });
}

function observed(files: Record<string, Partial<ObservedFile>>): Observation {
  return { files: new Map(Object.entries(files).map(([p, f]) => [p, { path: p, type: 'file', ...f } as ObservedFile])), units: new Map() };
}

async function etcdSet(c: ClusterContext) {
  const set = await binariesFor(c, 'etcd', V.etcd, 'amd64');
  if (set.state !== 'ready') throw new Error(`not ready: ${JSON.stringify(set)}`);
  return set.binaries;
}

describe('lazy binary content', () => {
  it('a converged plan reads no bytes; a change carries the verified bytes', async () => {
    const bins = await etcdSet(cluster('apply', path.join(work, 'cache-a')));
    const etcd = bins.find((b) => b.installPath === '/usr/local/bin/etcd')!;
    expect(etcd.sha256).toBe(sha256(etcd.localPath));
    const file = binaryFile(etcd);

    // converged: the sha256 matches; the local file is moved away first, so any read would throw ENOENT
    const kept = readFileSync(etcd.localPath);
    rmSync(etcd.localPath);
    expect(planFiles([file], observed({ [file.path]: { sha256: etcd.sha256, mode: 0o755, owner: 'root', group: 'root' } }))).toEqual([]);

    // a host with another binary: the change needs the bytes, which are read now (and are the verified ones)
    appendFileSync(etcd.localPath, kept);
    const [change] = planFiles([file], observed({ [file.path]: { sha256: 'f'.repeat(64), mode: 0o755, owner: 'root', group: 'root' } }));
    expect(change).toMatchObject({ kind: 'file', action: 'update', path: '/usr/local/bin/etcd', mode: 0o755 });
    expect(change?.kind === 'file' && Buffer.isBuffer(change.content) && change.content.equals(kept)).toBe(true);
  });

  it('a binary changed after it was verified is refused when its bytes are needed', async () => {
    const bins = await etcdSet(cluster('apply', path.join(work, 'cache-b')));
    const etcdctl = bins.find((b) => b.installPath === '/usr/local/bin/etcdctl')!;
    appendFileSync(etcdctl.localPath, 'tampered\n');
    expect(() => etcdctl.content).toThrow(expect.objectContaining({ code: 'artifact-checksum-mismatch' }));
  });
});

describe('plan mode', () => {
  it('uses the archive unpacked by an earlier apply run and writes nothing into the cache', async () => {
    const cacheDir = path.join(work, 'cache-c');
    // nothing unpacked yet: plan unpacks into a temporary directory, the cache stays untouched
    const first = await etcdSet(cluster('plan', cacheDir));
    expect(first.map((b) => b.content.length > 0)).toEqual([true, true]);
    expect(existsSync(cacheDir)).toBe(false);

    const applied = await etcdSet(cluster('apply', cacheDir));
    const listing = () => readdirSync(cacheDir, { recursive: true }).map(String).sort();
    const before = listing();
    const planned = await etcdSet(cluster('plan', cacheDir));
    expect(planned.map((b) => [b.installPath, b.localPath, b.sha256])).toEqual(applied.map((b) => [b.installPath, b.localPath, b.sha256]));
    expect(listing()).toEqual(before);
  });
});
