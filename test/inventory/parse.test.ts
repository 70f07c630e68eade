/** parseInventory: defaults, normalisation, positions, all problems at once, unsafe YAML refused. */
import { describe, expect, it } from 'vitest';
import { InventoryError, parseInventory, type InventoryIssue } from '../../src/inventory/load.js';
import { DEFAULT_VERSIONS } from '../../src/inventory/schema.js';
import { MAX_INVENTORY_BYTES } from '../../src/inventory/source.js';

const MINIMAL = `cluster:
  name: t
endpoint:
  mode: none
hosts:
  - name: a
    address: 192.168.1.11
    roles: [etcd, server]
`;

function issuesOf(text: string): InventoryIssue[] {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return [...(e as InventoryError).issues];
  }
  throw new Error('expected an InventoryError');
}

describe('parseInventory on valid text', () => {
  it('applies every default', () => {
    const inv = parseInventory(MINIMAL, 'inv.yaml');
    expect(inv.versions).toEqual(DEFAULT_VERSIONS);
    expect(inv.network).toEqual({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', nodeCidrMaskSize: 24, cni: 'bridge' });
    expect(inv.endpoint).toEqual({ mode: 'none', port: 6443, virtualRouterId: 51 });
    expect(inv.artifacts).toEqual({ source: 'upstream' });
    expect(inv.etcd).toEqual({ heartbeatIntervalMs: 100, electionTimeoutMs: 1000, allowEvenMembers: false, dataDir: '/var/lib/etcd' });
    expect(inv.k3s).toEqual({ secretsEncryption: true });
    expect(inv.ssh).toEqual({});
    expect(inv.hosts).toEqual([{ name: 'a', address: '192.168.1.11', roles: ['etcd', 'server'] }]);
  });

  it('drops a leading v from the containerd version', () => {
    const inv = parseInventory(MINIMAL.replace('endpoint:', 'versions:\n  containerd: v2.1.4\nendpoint:'), 'inv.yaml');
    expect(inv.versions.containerd).toBe('2.1.4');
  });

  it('accepts a document start marker and comments', () => {
    expect(parseInventory(`# comment\n---\n${MINIMAL}`, 'inv.yaml').cluster.name).toBe('t');
  });
});

describe('parseInventory problems', () => {
  it('reports every problem at once, schema and rules together, sorted by line', () => {
    const text = `cluster:
  name: Bad_Name
netwrk: {}
endpoint:
  vip: 192.168.1.11
hosts:
  - name: a
    address: 192.168.1.11
    roles: [etcd, server, agent]
  - name: a
    address: 192.168.1.300
    roles: [etcd]
`;
    const issues = issuesOf(text);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}`)).toEqual([
      '2:9 cluster.name',
      '3:1 netwrk',
      '5:8 endpoint.vip',
      '7:3 hosts',
      '9:12 hosts[0].roles',
      '10:11 hosts[1].name',
      '11:14 hosts[1].address',
    ]);
    expect(issues.find((i) => i.path === 'netwrk')!.hint).toBe('did you mean "network"?');
    expect(issues.find((i) => i.path === 'hosts')!.message).toBe('2 etcd members is an even number');
    for (const i of issues) {
      expect(i.file).toBe('inv.yaml');
      expect(i.message).not.toMatch(/\n/);
      expect(i.hint.length).toBeGreaterThan(5);
      expect(i.message[0]).toBe(i.message[0]!.toLowerCase());
    }
  });

  it('a missing key points at the parent mapping', () => {
    const issues = issuesOf(MINIMAL.replace('    address: 192.168.1.11\n', ''));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 6, col: 5, path: 'hosts[0].address', message: 'required field is missing' });
  });

  it('a missing top-level section points at the document', () => {
    const issues = issuesOf('# c\ncluster:\n  name: t\n');
    expect(issues).toEqual([
      expect.objectContaining({ line: 2, col: 1, path: 'hosts', message: 'required field is missing' }),
      // the default endpoint mode (keepalived) needs a VIP: a second, real problem
      expect.objectContaining({ line: 2, col: 1, path: 'endpoint.vip', message: 'endpoint.vip is required when endpoint mode is keepalived' }),
    ]);
  });

  it('an invalid label key points at the key, an invalid value at the value', () => {
    const text = MINIMAL + '    labels:\n      "bad key": ok\n      good: "bad value"\n';
    const issues = issuesOf(text);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}`)).toEqual(['10:7 hosts[0].labels["bad key"]', '11:13 hosts[0].labels.good']);
  });

  it('a misspelt required key gives one issue (did you mean), not also "missing"', () => {
    const issues = issuesOf(MINIMAL.replace('    address:', '    adress:'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'hosts[0].adress', message: 'unknown key "adress"', hint: 'did you mean "address"?' });
  });

  it('a misspelt value suggests the closest allowed value', () => {
    const issues = issuesOf(MINIMAL.replace('mode: none', 'mode: keepalivd'));
    expect(issues[0]).toMatchObject({ path: 'endpoint.mode', hint: 'did you mean "keepalived"?' });
  });

  it('hostile strings are quoted in messages: no raw control characters reach the terminal', () => {
    const issues = issuesOf(MINIMAL.replace('name: a', 'name: "a\\u001b[31m\\nb"'));
    expect(issues[0]!.message).toBe('"a\\u001b[31m\\nb" must be a lower-case host name (RFC 1123 label)');
    // eslint-disable-next-line no-control-regex
    expect(issues[0]!.message).not.toMatch(/[\x00-\x1f]/);
  });

  it('a file over the size cap is refused before parsing', () => {
    const big = `${MINIMAL}# ${'x'.repeat(MAX_INVENTORY_BYTES)}\n`;
    const issues = issuesOf(big);
    expect(issues).toEqual([expect.objectContaining({ line: 0, path: '' })]);
    expect(issues[0]!.message).toMatch(/too large .*at most 1048576 bytes/);
  });

  it('an alias bomb is refused', () => {
    let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 12; i++) text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toContain('too many alias expansions');
  });

  it('a few aliases are fine (then the keys are judged as usual)', () => {
    const issues = issuesOf(`${MINIMAL}defaults: &d {user: pi}\n`);
    expect(issues).toEqual([expect.objectContaining({ path: 'defaults', message: 'unknown key "defaults"' })]);
  });

  it('deeply nested input is refused with a clear error, not a crash', () => {
    for (const text of [`a: ${'['.repeat(20000)}${']'.repeat(20000)}`, `${'- '.repeat(50000)}x\n`, `a: ${'{'.repeat(100000)}`]) {
      const issues = issuesOf(text);
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.every((i) => i.message.startsWith('yaml:') || i.message.includes('mapping'))).toBe(true);
    }
  });

  it('several documents are refused, pointing at the second', () => {
    const issues = issuesOf(`${MINIMAL}---\n${MINIMAL}`);
    expect(issues).toEqual([expect.objectContaining({ line: 9, col: 1, message: 'the file holds 2 YAML documents; an inventory is one document' })]);
  });

  it('empty text, a scalar and a list are refused', () => {
    expect(issuesOf('')[0]!.message).toBe('the inventory is empty');
    expect(issuesOf('# only a comment\n')[0]!.message).toBe('the inventory is empty');
    expect(issuesOf('just text\n')[0]!.message).toMatch(/must be a mapping .* not the string "just text"/);
    expect(issuesOf('- a\n')[0]!.message).toMatch(/not a list$/);
  });

  it('explicit tags are refused', () => {
    const issues = issuesOf(MINIMAL.replace('name: t', 'name: !secret t'));
    expect(issues[0]!.message).toMatch(/^yaml: /);
  });

  it('the error message counts the problems and keeps at most 50 of them', () => {
    const hosts = Array.from({ length: 60 }, (_, i) => `  - {name: "H${i}", address: 10.0.0.${i + 1}, roles: [agent]}`).join('\n');
    try {
      parseInventory(`cluster: {name: t}\nendpoint: {mode: none}\nhosts:\n${hosts}\n`, 'inv.yaml');
      throw new Error('expected an error');
    } catch (e) {
      const err = e as InventoryError;
      expect(err.total).toBe(62); // 60 names + no server + no etcd
      expect(err.issues).toHaveLength(50);
      expect(err.message).toBe('inv.yaml: 62 problems in the inventory');
      expect(err.exitCode).toBe(2);
    }
  });
});
