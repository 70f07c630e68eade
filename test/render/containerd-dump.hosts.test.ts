/**
 * The rendered config.toml (version 2 layout) read by a real containerd: Debian 12's containerd
 * 1.6.20 (what the lab runs) loads it with `containerd config dump`, which prints the merged
 * configuration. Keys containerd does not know are dropped from that dump, so every rendered
 * key must come back with its value at the same place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { buildContainerdContext, renderContainerdConfig } from '../../src/render/index.js';
import { fetchDebianPackage, type DebianPackage } from './helpers/debian-package.js';
import { sampleInventory } from './helpers/sample.js';

type Table = Record<string, unknown>;

/** Every leaf of a parsed TOML document as [dotted path, value]. */
function leaves(t: Table, prefix: string[] = []): [string[], unknown][] {
  return Object.entries(t).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Table, [...prefix, k]) : [[[...prefix, k], v] as [string[], unknown]],
  );
}

function at(t: Table, keys: string[]): unknown {
  return keys.reduce<unknown>((acc, k) => (acc !== null && typeof acc === 'object' ? (acc as Table)[k] : undefined), t);
}

describe('containerd 1.6 reads the rendered config.toml', () => {
  let pkg: DebianPackage;
  const dump = (toml: string, name: string): Table => {
    const file = path.join(path.dirname(pkg.root), name);
    writeFileSync(file, toml);
    return parse(execFileSync(path.join(pkg.root, 'usr/bin/containerd'), ['--config', file, 'config', 'dump'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Table;
  };
  const missing = (rendered: Table, dumped: Table): string[] =>
    leaves(rendered)
      .filter(([keys, value]) => JSON.stringify(at(dumped, keys)) !== JSON.stringify(value))
      .map(([keys]) => keys.join('.'));

  beforeAll(() => {
    pkg = fetchDebianPackage('containerd');
    expect(pkg.version).toMatch(/^1\.6\./);
  }, 300_000);
  afterAll(() => pkg?.cleanup());

  it('a misspelled key is dropped from the dump (control)', () => {
    const bad = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshoter = "overlayfs"\n';
    expect(missing(parse(bad) as Table, dump(bad, 'bad.toml'))).toEqual(['plugins.io.containerd.grpc.v1.cri.containerd.snapshoter']);
  });

  it.each(['bridge', 'flannel'] as const)('every rendered key comes back with its value (%s mode)', (cni) => {
    const inv = sampleInventory({ versions: { containerd: '1.6.20' }, network: { cni } });
    const toml = renderContainerdConfig(buildContainerdContext(inv));
    const rendered = parse(toml) as Table;
    expect(leaves(rendered).length).toBeGreaterThan(8);
    expect(missing(rendered, dump(toml, `${cni}.toml`))).toEqual([]);
  });
});
