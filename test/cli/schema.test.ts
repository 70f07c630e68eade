/** `kubi-provision schema`: prints the committed schema; --output writes it to a file. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from './run-cli.js';

describe('schema command', () => {
  it('prints the JSON Schema, identical to schema/inventory.schema.json', () => {
    const r = runCli(['schema']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(path.join(ROOT, 'schema/inventory.schema.json'), 'utf8'));
    expect(JSON.parse(r.stdout).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('--output writes the file and leaves no temp file behind', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-schema-'));
    try {
      const out = path.join(dir, 'inv.schema.json');
      const r = runCli(['schema', '--output', out]);
      expect(r.status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(path.join(ROOT, 'schema/inventory.schema.json'), 'utf8'));
      expect(readdirSync(dir)).toEqual(['inv.schema.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
