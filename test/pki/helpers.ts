/** Shared helpers for the PKI tests: an inventory, a temp state dir, the real openssl CLI. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Inventory, type InventoryInput } from '../../src/inventory/schema.js';

export function inventory(overrides: Partial<InventoryInput> = {}): Inventory {
  return Inventory.parse({
    cluster: { name: 'lab' },
    hosts: [
      { name: 'node1', address: '10.77.0.11', roles: ['etcd', 'server'] },
      { name: 'node2', address: '10.77.0.12', roles: ['etcd', 'server'] },
      { name: 'node3', address: '10.77.0.13', roles: ['etcd', 'server'] },
      { name: 'node4', address: '10.77.0.14', roles: ['agent'] },
    ],
    ...overrides,
  });
}

export function tempDir(prefix = 'kubi-pki-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run openssl; returns stdout+stderr and the exit status (never throws). */
export function openssl(args: string[], input?: string): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function opensslText(certPath: string): string {
  return execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-text'], { encoding: 'utf8' });
}

/** The line after an extension header in `openssl x509 -text` (e.g. "X509v3 Subject Alternative Name"). */
export function extensionValue(text: string, header: string): string | null {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trim().startsWith(`${header}:`));
  if (i === -1) return null;
  return (lines[i + 1] ?? '').trim();
}

export function writeTemp(dir: string, name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}
