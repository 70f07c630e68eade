import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readState, stateFile, writeState, type LabState } from '../../src/lab/state.js';

describe('lab state file', () => {
  it('concurrent writes land in order: the file always ends with the latest state, 0600', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-state-'));
    try {
      const state: LabState = { version: 1, namespace: 'x', subnet: '10.77.0.0/24', backend: 'container', stateDir: dir, cacheDir: dir, createdAt: '', phase: 'creating', keyPath: '', inventoryPath: '', nodes: [] };
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 40; i++) {
        state.nodes.push({ name: `node${i}`, offset: 11 + i, address: '', mac: '', backend: 'container', dir: '', generation: 0 });
        writes.push(writeState(state));
      }
      await Promise.all(writes);
      expect(readState(dir)!.nodes).toHaveLength(40);
      expect((await stat(stateFile(dir))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable state file is a clear error that points at lab down', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-state-'));
    try {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(stateFile(dir), '{ not json');
      expect(() => readState(dir)).toThrow(/unreadable/);
      expect(readState(path.join(dir, 'missing'))).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
