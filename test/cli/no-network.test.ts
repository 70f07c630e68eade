/**
 * `validate` (and a stub's inventory check) opens no network connection. Two independent
 * witnesses: a preload that records every connect/lookup/fetch of the CLI process, and a real TCP
 * listener on 127.0.0.1 that the inventory's hosts point at (ssh port), which must see no
 * connection. A control run proves the preload does record a connection.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { runCli } from './run-cli.js';

const PRELOAD = path.join(path.dirname(new URL(import.meta.url).pathname), 'no-network-preload.cjs');

let server: net.Server;
let port = 0;
let accepted = 0;
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-nonet-'));
  server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function inventory(valid: boolean): string {
  return [
    'cluster:',
    '  name: nonet',
    'endpoint:',
    '  mode: none',
    'ssh:',
    `  port: ${port}`,
    '  connectTimeoutMs: 1000',
    ...(valid ? [] : ['  colour: blue']),
    'hosts:',
    '  - name: local',
    '    address: 127.0.0.1',
    '    roles: [etcd, server]',
    '',
  ].join('\n');
}

function recordFile(name: string): string {
  const file = path.join(dir, `${name}.record`);
  writeFileSync(file, '');
  return file;
}

describe('no network during validation', () => {
  it('control: the preload records a connection attempt (so the checks below can fail)', () => {
    const record = recordFile('control');
    const r = spawnSync(process.execPath, ['--require', PRELOAD, '-e', `require('node:net').connect(${port}, '127.0.0.1').on('error', () => {})`], {
      env: { ...process.env, KUBI_NET_RECORD: record },
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(readFileSync(record, 'utf8')).toContain(`net.Socket.connect`);
  });

  for (const [label, args, valid, status] of [
    ['validate on an invalid inventory', ['validate'], false, 2],
    ['validate on a valid inventory', ['validate'], true, 0],
    ['a stub (up) on an invalid inventory', ['up'], false, 2],
  ] as Array<[string, string[], boolean, number]>) {
    it(label, () => {
      const file = path.join(dir, `${valid ? 'valid' : 'invalid'}.yaml`);
      writeFileSync(file, inventory(valid));
      const record = recordFile(label.replace(/\W+/g, '-'));
      const before = accepted;
      const r = runCli([...args, file], { env: { KUBI_NET_RECORD: record, NO_COLOR: '1' }, nodeOptions: ['--require', PRELOAD] });
      expect(r.status, r.stderr).toBe(status);
      if (!valid) expect(r.stderr).toContain('unknown key "colour"');
      expect(existsSync(record)).toBe(true);
      expect(readFileSync(record, 'utf8')).toBe('');
      expect(accepted).toBe(before);
    });
  }
});
