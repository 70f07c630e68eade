/**
 * Every rendered unit checked by the real `systemd-analyze verify` of this machine (systemd 252,
 * as on Debian 12 nodes): no unknown keys or sections, no unparsable values. Programs that only
 * exist on nodes (etcd, k3s, ...) and units outside the set are the only complaints allowed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleInventory } from './helpers/sample.js';
import { renderAll } from './helpers/all-files.js';

function verify(files: string[]): string[] {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
}

/** Complaints that only say the node's programs or other units are missing on this machine. */
const EXPECTED = [/Command \/usr\/local\/(s?bin|lib\/kubi)\/\S+ is not executable: No such file or directory/, /Unit \S+ not found/, /Failed to create \S+\/start/];

describe('systemd-analyze verify', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-units-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a unit with an unknown key (control)', () => {
    const bad = path.join(dir, 'bad.service');
    writeFileSync(bad, '[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\nRestartSecs=5\n[Install]\nWantedBy=multi-user.target\n');
    expect(verify([bad]).some((l) => /Unknown key/.test(l))).toBe(true);
  });

  it('accepts every rendered unit', () => {
    const units = [
      ...renderAll(sampleInventory()),
      ...renderAll(sampleInventory({ versions: { containerd: '2.1.4' }, network: { cni: 'flannel' } })),
    ].filter((f, i, all) => f.path.endsWith('.service') && all.findIndex((g) => g.content === f.content) === i);
    expect(units.length).toBeGreaterThanOrEqual(6);
    const files: string[] = [];
    units.forEach((u, i) => {
      const sub = path.join(dir, String(i));
      rmSync(sub, { recursive: true, force: true });
      const file = path.join(sub, path.basename(u.path));
      mkdirSync(sub, { recursive: true });
      writeFileSync(file, u.content);
      files.push(file);
    });
    for (const file of files) {
      const complaints = verify([file]).filter((l) => !EXPECTED.some((re) => re.test(l)));
      expect(complaints, file).toEqual([]);
    }
  });
});
