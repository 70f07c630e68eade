import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decideHostKey,
  fingerprintOf,
  forgetHost,
  formatKnownHosts,
  KnownHostsFile,
  keyTypeOfBlob,
  parseHostPattern,
  parseKnownHosts,
  upsertEntry,
  type KnownHostEntry,
} from '../../src/transport/known-hosts.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'kubi-kh-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A real ed25519 public key made by ssh-keygen. */
function realKey(name: string): { type: string; b64: string; pubFile: string } {
  const file = path.join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type, b64] = readFileSync(`${file}.pub`, 'utf8').split(' ');
  return { type: type!, b64: b64!, pubFile: `${file}.pub` };
}

const k1 = realKey('k1');
const k2 = realKey('k2');
const entry = (name: string, key = k1, address = '10.0.0.1', port = 22): KnownHostEntry => ({ name, address, port, keyType: key.type, keyBase64: key.b64 });

describe('fingerprints', () => {
  it('equal ssh-keygen -lf (SHA256, unpadded base64)', () => {
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k1.pubFile], { encoding: 'utf8' }).split(' ')[1];
    expect(fingerprintOf(k1.b64)).toBe(printed);
    expect(fingerprintOf(Buffer.from(k1.b64, 'base64'))).toBe(printed);
  });

  it('reads the key type inside the blob', () => {
    expect(keyTypeOfBlob(Buffer.from(k1.b64, 'base64'))).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 99, 1]))).toBeNull();
  });
});

describe('parse and format', () => {
  it('round-trips entries, comments and foreign lines in order', () => {
    const text = [
      '# kubi-provision host keys',
      `node1,10.0.0.1 ${k1.type} ${k1.b64}`,
      `node2,[127.0.0.2]:2201 ${k2.type} ${k2.b64}`,
      `|1|hashed= ${k1.type} ${k1.b64}`,
      '',
    ].join('\n');
    const doc = parseKnownHosts(text);
    expect(doc.problems).toEqual([]);
    expect(doc.lines.filter((l) => l.kind === 'entry').map((l) => l.kind === 'entry' && l.entry)).toEqual([
      entry('node1'),
      entry('node2', k2, '127.0.0.2', 2201),
    ]);
    expect(formatKnownHosts(doc)).toBe(text);
  });

  it('reports unusable lines (and keeps them) instead of dropping them', () => {
    const doc = parseKnownHosts(`node1 ${k1.type} ${k1.b64}\nnode2,10.0.0.2 ssh-rsa ${k1.b64}\nnode3,10.0.0.3 ssh-ed25519\n`);
    expect(doc.problems.map((p) => p.line)).toEqual([1, 2, 3]);
    expect(doc.problems[1]!.message).toMatch(/not valid base64 of a ssh-rsa key/);
    expect(doc.lines.every((l) => l.kind === 'other')).toBe(true);
  });

  it('parses host patterns as OpenSSH writes them', () => {
    expect(parseHostPattern('10.0.0.1')).toEqual({ address: '10.0.0.1', port: 22 });
    expect(parseHostPattern('[10.0.0.1]:2222')).toEqual({ address: '10.0.0.1', port: 2222 });
    expect(parseHostPattern('[10.0.0.1]:0')).toBeNull();
    expect(parseHostPattern('*.lab')).toBeNull();
  });

  it('upsert replaces the entry of the same name and refuses names known_hosts cannot hold', () => {
    const doc = upsertEntry(parseKnownHosts(`node1,10.0.0.1 ${k1.type} ${k1.b64}\n`), entry('node1', k2, '10.0.0.9'));
    expect(formatKnownHosts(doc)).toBe(`node1,10.0.0.9 ${k2.type} ${k2.b64}\n`);
    expect(() => upsertEntry(doc, entry('bad name'))).toThrow(/cannot record a host key/);
  });
});

describe('decideHostKey', () => {
  const presented = { keyType: k1.type, keyBase64: k1.b64 };
  const other = { keyType: k2.type, keyBase64: k2.b64 };
  it('trusts on first use, or refuses in strict mode', () => {
    expect(decideHostKey(null, presented, {})).toEqual({ kind: 'record' });
    expect(decideHostKey(null, presented, { strictHostKeys: true })).toEqual({ kind: 'refuse-unknown' });
  });
  it('accepts the recorded key', () => {
    expect(decideHostKey(entry('n'), presented, { strictHostKeys: true })).toEqual({ kind: 'trusted' });
  });
  it('refuses a changed key unless told to replace it', () => {
    expect(decideHostKey(entry('n'), other, {})).toEqual({ kind: 'refuse-mismatch', previous: entry('n') });
    expect(decideHostKey(entry('n'), other, { acceptChangedHostKeys: true })).toEqual({ kind: 'replace', previous: entry('n') });
  });
});

describe('KnownHostsFile', () => {
  it('creates the file 0600 in a 0700 state dir, atomically, and serialises concurrent writers', async () => {
    const stateDir = path.join(tmp, 'state-a');
    const store = KnownHostsFile.forStateDir(stateDir);
    await Promise.all(['n1', 'n2', 'n3', 'n4', 'n5'].map((n, i) => store.upsert(entry(n, i % 2 ? k1 : k2))));
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    const doc = await store.read();
    expect(doc.lines.map((l) => (l.kind === 'entry' ? l.entry.name : '?')).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    // no temp files left beside it
    expect(execFileSync('ls', ['-A', stateDir], { encoding: 'utf8' }).trim()).toBe('known_hosts');
  });

  it('forgetHost removes only that host and reports what it removed', async () => {
    const stateDir = path.join(tmp, 'state-b');
    const store = KnownHostsFile.forStateDir(stateDir);
    await store.upsert(entry('keep'));
    await store.upsert(entry('gone', k2));
    expect(await forgetHost(stateDir, 'gone')).toEqual(entry('gone', k2));
    expect(await forgetHost(stateDir, 'gone')).toBeNull();
    expect(readFileSync(store.path, 'utf8')).toBe(`keep,10.0.0.1 ${k1.type} ${k1.b64}\n`);
  });

  it('reads a missing file as empty', async () => {
    expect(await new KnownHostsFile(path.join(tmp, 'none', 'known_hosts')).lookup('x')).toBeNull();
  });

  it('keeps lines it does not own when rewriting', async () => {
    const file = path.join(tmp, 'foreign_known_hosts');
    writeFileSync(file, `# hand-written\n|1|abc= ${k1.type} ${k1.b64}\n`);
    const store = new KnownHostsFile(file);
    await store.upsert(entry('n1'));
    expect(readFileSync(file, 'utf8')).toBe(`# hand-written\n|1|abc= ${k1.type} ${k1.b64}\nn1,10.0.0.1 ${k1.type} ${k1.b64}\n`);
  });
});
