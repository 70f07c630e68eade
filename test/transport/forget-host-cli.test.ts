/** `forget-host <inventory> <host>` (src/cli/commands/forget-host.ts) on a real inventory and state dir. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/commands/forget-host.js';
import type { CliContext, Colors, Output } from '../../src/cli/output.js';
import { UsageError } from '../../src/errors.js';
import { fingerprintOf, KnownHostsFile } from '../../src/transport/known-hosts.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-forget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const inventory = path.join(dir, 'lab.yaml');
const stateDir = path.join(dir, 'state');
writeFileSync(
  inventory,
  `cluster:\n  name: lab\n  stateDir: ./state\nendpoint:\n  mode: none\nhosts:\n  - name: node-1\n    address: 10.0.0.1\n    roles: [etcd, server]\n  - name: node-2\n    address: 10.0.0.2\n    roles: [agent]\n`,
);

function key(name: string): { type: string; b64: string } {
  const f = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
  const [type, b64] = readFileSync(`${f}.pub`, 'utf8').split(' ');
  return { type: type!, b64: b64! };
}

const plain: Colors = { enabled: false, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s, bold: (s) => s, dim: (s) => s };

async function runCli(...args: string[]): Promise<string> {
  let out = '';
  const output: Output = {
    out: (t) => (out += t),
    err: (t) => (out += t),
    line: (t = '') => (out += `${t}\n`),
    errLine: (t = '') => (out += `${t}\n`),
    color: plain,
    errColor: plain,
  };
  const cli: CliContext = { output, debug: false };
  const program = new Command().exitOverride();
  register(program, cli);
  await program.parseAsync(['node', 'kubi-provision', 'forget-host', ...args]);
  return out;
}

describe('forget-host', () => {
  const k1 = key('k1');
  const k2 = key('k2');

  it('removes the recorded key of that host only and says which key it was', async () => {
    const store = KnownHostsFile.forStateDir(stateDir);
    await store.upsert({ name: 'node-1', address: '10.0.0.1', port: 22, keyType: k1.type, keyBase64: k1.b64 });
    await store.upsert({ name: 'node-2', address: '10.0.0.2', port: 22, keyType: k2.type, keyBase64: k2.b64 });
    const out = await runCli(inventory, 'node-1');
    expect(out).toContain(`forgot the host key of node-1: ssh-ed25519 ${fingerprintOf(k1.b64)} (removed from ${store.path})`);
    expect(await store.lookup('node-1')).toBeNull();
    expect(await store.lookup('node-2')).not.toBeNull();
  });

  it('says so when nothing was recorded', async () => {
    expect(await runCli(inventory, 'node-1')).toContain('no host key recorded for node-1');
  });

  it('forgets a jump host recorded in known_hosts', async () => {
    const store = KnownHostsFile.forStateDir(stateDir);
    await store.upsert({ name: 'bastion', address: '192.0.2.1', port: 2222, keyType: k1.type, keyBase64: k1.b64 });
    expect(await runCli(inventory, 'bastion')).toContain('forgot the host key of bastion');
  });

  it('refuses an unknown host name with a usage error (exit 2) listing the known names', async () => {
    const e = await runCli(inventory, 'node-9').then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    expect((e as UsageError).message).toBe(`no host named "node-9" in ${inventory}`);
    expect((e as UsageError).hint).toContain('known hosts: node-1, node-2');
  });
});
