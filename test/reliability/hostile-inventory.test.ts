/**
 * Hostile inventory values (issue 10): shell injection (`$(...)`, backticks, `;`, newlines, quotes,
 * redirections, NUL, bidi overrides) in EVERY string field of the inventory, on three levels:
 *  1. parseInventory refuses each value in each field, naming the field (pure, exhaustive);
 *  2. fast-check: a random string holding any shell-active character, put into a random field,
 *     never yields a valid inventory;
 *  3. the real CLI (`validate`, `plan`, `up`) on inventories where every field is hostile: exit 2,
 *     the field named, nothing created (no state directory, no run log) and the canary file the
 *     payloads would touch does not exist.
 * The lab-side proof (canary on the nodes) is in security.hosts.test.ts.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InventoryError, parseInventory } from '../../src/inventory/load.js';
import { hostileValues, runCliBounded } from './helpers.js';

type Obj = Record<string, unknown>;

/** A valid inventory touching every section (offline artifacts, per-host ssh, agents with labels/taints). */
function base(): Obj {
  return {
    cluster: { name: 'rel', stateDir: './state' },
    versions: { k3s: 'v1.34.3+k3s1', etcd: 'v3.5.21', containerd: '1.7.28', runc: 'v1.3.0', cni: 'v1.7.1' },
    network: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', clusterDns: '10.43.0.10', cni: 'bridge' },
    endpoint: { mode: 'keepalived', vip: '10.0.0.100', interface: 'eth0', subnet: '10.0.0.0/24' },
    ssh: { user: 'root', privateKey: './id_ed25519', jumpHost: 'bastion.example.com:22' },
    artifacts: { source: 'offline', dir: './artifacts', cacheDir: './cache' },
    etcd: { dataDir: '/var/lib/etcd' },
    hosts: [
      { name: 'cp-1', address: '10.0.0.11', roles: ['etcd', 'server'], arch: 'amd64', ssh: { user: 'pi', privateKey: './pi_key', jumpHost: 'bastion' } },
      { name: 'cp-2', address: '10.0.0.12', roles: ['etcd', 'server'] },
      { name: 'cp-3', address: '10.0.0.13', roles: ['etcd', 'server'] },
      { name: 'w-1', address: '10.0.0.21', roles: ['agent'], labels: { 'example.com/zone': 'a' }, taints: ['gpu=yes:NoSchedule'] },
    ],
  };
}

/**
 * Every string-valued field: its displayed path and how to set it. `mustRefuse` narrows which
 * values the field has to refuse where its format is wider than "plain characters": a local path
 * (read by the tool itself, never given to a shell) and a URL (given to fetch only) may hold
 * characters like a bidi override, or `$`, `;`, `&` in a URL, that no shell ever sees.
 */
interface Field {
  path: string;
  set(inv: Obj, v: string): void;
  mustRefuse?: RegExp;
}

/** Characters that mean something to a shell (or end a line): a value holding one must never pass. */
// eslint-disable-next-line no-control-regex
const SHELL_ACTIVE = /[$`;|&<>'"\\\x00-\x1f\x7f]/;
/** What a URL may never hold (whitespace, quotes, backticks, brackets, control characters). */
// eslint-disable-next-line no-control-regex
const URL_FORBIDDEN = /[\s"'`<>\\{}|^\x00-\x1f\x7f]/;
const LOCAL_PATH = SHELL_ACTIVE;

const at = (inv: Obj, ...keys: Array<string | number>): Obj => keys.reduce<Obj>((o, k) => (o as Record<string | number, Obj>)[k]!, inv);

const FIELDS: Field[] = [
  { path: 'cluster.name', set: (i, v) => (at(i, 'cluster').name = v) },
  { path: 'cluster.stateDir', set: (i, v) => (at(i, 'cluster').stateDir = v), mustRefuse: LOCAL_PATH },
  ...(['k3s', 'etcd', 'containerd', 'runc', 'cni'] as const).map((k): Field => ({ path: `versions.${k}`, set: (i, v) => (at(i, 'versions')[k] = v) })),
  ...(['podCidr', 'serviceCidr', 'clusterDns'] as const).map((k): Field => ({ path: `network.${k}`, set: (i, v) => (at(i, 'network')[k] = v) })),
  { path: 'network.cni', set: (i, v) => (at(i, 'network').cni = v) },
  ...(['vip', 'interface', 'subnet', 'mode'] as const).map((k): Field => ({ path: `endpoint.${k}`, set: (i, v) => (at(i, 'endpoint')[k] = v) })),
  { path: 'ssh.user', set: (i, v) => (at(i, 'ssh').user = v) },
  { path: 'ssh.privateKey', set: (i, v) => (at(i, 'ssh').privateKey = v), mustRefuse: LOCAL_PATH },
  { path: 'ssh.jumpHost', set: (i, v) => (at(i, 'ssh').jumpHost = v) },
  { path: 'artifacts.dir', set: (i, v) => (at(i, 'artifacts').dir = v), mustRefuse: LOCAL_PATH },
  { path: 'artifacts.cacheDir', set: (i, v) => (at(i, 'artifacts').cacheDir = v), mustRefuse: LOCAL_PATH },
  {
    path: 'artifacts.mirrorUrl',
    // a mirror goes with upstream downloads (not with an offline directory)
    set: (i, v) => (i.artifacts = { source: 'upstream', cacheDir: './cache', mirrorUrl: `http://mirror.lan/${v}` }),
    mustRefuse: URL_FORBIDDEN,
  },
  { path: 'artifacts.source', set: (i, v) => (at(i, 'artifacts').source = v) },
  { path: 'etcd.dataDir', set: (i, v) => (at(i, 'etcd').dataDir = `/var/lib/${v}`) },
  { path: 'hosts[0].name', set: (i, v) => (at(i, 'hosts', 0).name = v) },
  { path: 'hosts[0].address', set: (i, v) => (at(i, 'hosts', 0).address = v) },
  { path: 'hosts[0].roles[1]', set: (i, v) => ((at(i, 'hosts', 0).roles as string[])[1] = v) },
  { path: 'hosts[0].arch', set: (i, v) => (at(i, 'hosts', 0).arch = v) },
  { path: 'hosts[0].ssh.user', set: (i, v) => (at(i, 'hosts', 0, 'ssh').user = v) },
  { path: 'hosts[0].ssh.privateKey', set: (i, v) => (at(i, 'hosts', 0, 'ssh').privateKey = v), mustRefuse: LOCAL_PATH },
  { path: 'hosts[0].ssh.jumpHost', set: (i, v) => (at(i, 'hosts', 0, 'ssh').jumpHost = v) },
  { path: 'hosts[3].labels', set: (i, v) => (at(i, 'hosts', 3).labels = { [`example.com/${v}`]: 'a' }) },
  { path: 'hosts[3].labels', set: (i, v) => (at(i, 'hosts', 3).labels = { 'example.com/zone': v }) },
  { path: 'hosts[3].labels', set: (i, v) => (at(i, 'hosts', 3).labels = { [v]: 'a' }) },
  { path: 'hosts[3].taints[0]', set: (i, v) => (at(i, 'hosts', 3).taints = [`${v}:NoSchedule`]) },
  { path: 'hosts[3].taints[0]', set: (i, v) => (at(i, 'hosts', 3).taints = [`gpu=${v}:NoSchedule`]) },
  { path: 'hosts[3].taints[0]', set: (i, v) => (at(i, 'hosts', 3).taints = [`gpu=yes:${v}`]) },
];


function tryParse(inv: Obj): InventoryError | null {
  try {
    parseInventory(stringify(inv), 'hostile.yaml');
    return null;
  } catch (e) {
    if (e instanceof InventoryError) return e;
    throw e;
  }
}

const CANARY_DIR = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-canary-'));
const CANARY = path.join(CANARY_DIR, 'kubi-canary');
const VALUES = hostileValues(CANARY);

describe('hostile values in every inventory field are refused by validation', () => {
  it('the base inventory is valid (so each refusal below is caused by the hostile value)', () => {
    expect(tryParse(base())).toBeNull();
  });

  it(`${FIELDS.length} fields x ${VALUES.length} payloads: each refused, naming the field`, () => {
    let tried = 0;
    const accepted: string[] = [];
    for (const field of FIELDS) {
      for (const value of VALUES) {
        const inv = base();
        field.set(inv, value);
        const err = tryParse(inv);
        tried++;
        if (err === null) {
          if (field.mustRefuse && !field.mustRefuse.test(value)) continue;
          accepted.push(`${field.path} = ${JSON.stringify(value)}`);
          continue;
        }
        expect(err.exitCode).toBe(2);
        expect(err.issues.some((i) => i.path.startsWith(field.path)), `${field.path} = ${JSON.stringify(value)}: ${err.issues.map((i) => i.path).join(', ')}`).toBe(true);
      }
    }
    expect(accepted).toEqual([]);
    expect(tried).toBe(FIELDS.length * VALUES.length);
  });

  it('property: a random string with a shell-active character, in a random field, never validates', () => {
    const active = fc.constantFrom('$(', '`', ';', '|', '&', '<', '>', "'", '"', '\\', '\n', '\r', '\0', '\t', '$IFS', '${x}');
    const hostile = fc.tuple(fc.string({ maxLength: 12 }), active, fc.string({ maxLength: 12 })).map(([a, b, c]) => `${a}${b}${c}`);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: FIELDS.length - 1 }), hostile, (fi, value) => {
        const inv = base();
        FIELDS[fi]!.set(inv, value);
        const err = tryParse(inv);
        const must = FIELDS[fi]!.mustRefuse;
        if (must && !must.test(value)) return;
        expect(err, `${FIELDS[fi]!.path} = ${JSON.stringify(value)} was accepted`).not.toBeNull();
        expect(err!.issues.some((i) => i.path.startsWith(FIELDS[fi]!.path))).toBe(true);
      }),
      { numRuns: 400, seed: 1010 },
    );
  });
});

describe('well-formed but destructive values are refused', () => {
  // found by this suite: `etcd.dataDir: /usr` planned "create directory /usr (0700)", i.e. chmod 0700
  // on /usr (every non-root user, sudo included, locked out of the host)
  const refused = ['/usr', '/usr/', '//usr', '/usr/.', '/etc', '/var', '/var/lib', '/home', '/root', '/boot/etcd', '/tmp/etcd', '/proc/1', '/run/etcd', '/etc/etcd', '/etc/etcd/pki', '/usr/local/etcd', '/var/lib/kubi-provision'];
  const accepted = ['/var/lib/etcd', '/data/etcd', '/srv/etcd', '/mnt/ssd/etcd', '/var/lib/etcd-data', '/opt/etcd-data'];
  it.each(refused)('etcd.dataDir %s is refused', (dir) => {
    const inv = base();
    at(inv, 'etcd').dataDir = dir;
    const err = tryParse(inv);
    expect(err, `${dir} was accepted`).not.toBeNull();
    expect(err!.issues.map((i) => i.path)).toContain('etcd.dataDir');
  });
  it.each(accepted)('etcd.dataDir %s is accepted', (dir) => {
    const inv = base();
    at(inv, 'etcd').dataDir = dir;
    expect(tryParse(inv)).toBeNull();
  });
});

describe('the real CLI on all-hostile inventories: exit 2, nothing runs, nothing is created', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-hostile-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(CANARY_DIR, { recursive: true, force: true });
  });

  /** One inventory per payload with the payload in every field at once (all issues are reported together). */
  function allHostile(value: string): Obj {
    const inv = base();
    for (const f of FIELDS) if (!f.mustRefuse || f.mustRefuse.test(value)) f.set(inv, value);
    // the state directory stays where the test can see it was not created
    at(inv, 'cluster').stateDir = './state';
    return inv;
  }

  for (const command of ['validate', 'plan', 'up'] as const) {
    it(`${command}: every payload refused with exit 2 before anything runs`, () => {
      for (const [n, value] of VALUES.entries()) {
        const file = path.join(dir, `hostile-${command}-${n}.yaml`);
        writeFileSync(file, stringify(allHostile(value)));
        const r = runCliBounded([command, file], { boundMs: 30_000, cwd: dir });
        expect(r.hung, `${command} on payload ${n} hung`).toBe(false);
        expect(r.status, `${command} payload ${JSON.stringify(value)}: ${r.stderr}`).toBe(2);
        // the report names fields and stays one line per issue (no raw newline or NUL from the payload)
        expect(r.stderr).toMatch(/hosts\[3\]\.(labels|taints)/);
        expect(r.stderr).not.toContain('\0');
        expect(r.stderr.split('\n').some((l) => l.startsWith('touch '))).toBe(false);
        expect(existsSync(CANARY), `payload ${JSON.stringify(value)} ran a command`).toBe(false);
      }
      // nothing was created beside the inventories: no state directory, no run log, no lock
      expect(readdirSync(dir).filter((f) => !f.startsWith('hostile-'))).toEqual([]);
    }, 180_000);
  }
});
