/**
 * SshHost.reconnect against real sshd (test/harness/sshd.ts): the server is stopped and started
 * again on the same address and port while the client reconnects (what a reboot looks like to
 * the transport); a regenerated host key is still a hard host-key-mismatch; a host that stays
 * down ends in reconnect-timeout naming the host, what was awaited and the last error.
 * A real reboot of a VM is not done here (too slow); rebootAndWait's loop is unit-tested in
 * reconnect-reboot.test.ts.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import type { CommandLogSink } from '../../src/transport/types.js';
import { SshdLab, sleep, type SshdServer, rejection } from '../harness/sshd.js';

let lab: SshdLab;
let home: string;
const hosts: SshHost[] = [];

function events(): { sink: CommandLogSink; list: string[] } {
  const list: string[] = [];
  return { list, sink: { command: () => {}, event: (_h, m) => list.push(m) } };
}

function opts(stateDir: string, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home, USER: 'root' }, retryDelayMs: 50, ...extra };
}

function target(server: SshdServer): SshTarget {
  return { name: server.name, address: server.address, port: server.port, user: 'root', privateKeyPath: lab.keys.plain };
}

async function connect(server: SshdServer, extra: Partial<TransportOptions> = {}): Promise<SshHost> {
  const h = await SshHost.connect(target(server), opts(path.join(lab.dir, `state-${server.name}`), extra));
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  lab = await SshdLab.create();
  home = path.join(lab.dir, 'home');
  await fs.mkdir(home, { mode: 0o700 });
});

afterEach(() => {
  for (const h of hosts.splice(0)) h.close();
});

afterAll(async () => {
  await lab?.cleanup();
});

describe('reconnect against real sshd', () => {
  it('sshd stopped and started again on the same port: the reconnect retries until it answers, then commands work again', async () => {
    const server = await lab.startSshd({ name: 'comeback' });
    const log = events();
    const h = await connect(server, { log: log.sink });
    expect((await h.exec(['cat', '/proc/sys/kernel/random/boot_id'], { mutating: false })).stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);

    await server.stop();
    // the old connection is dead: commands fail with connection-lost
    const lost = await rejection(h.exec(['true']));
    expect(lost.code).toBe('connection-lost');

    const reconnecting = h.reconnect({ timeoutMs: 60_000, reason: 'reboot' });
    // let at least one attempt be refused before sshd is back
    while (!log.list.some((m) => /ssh connect attempt \d+ failed \(connection refused\)/.test(m))) await sleep(20);
    await server.start();
    await reconnecting;

    expect(h.connected).toBe(true);
    const r = await h.exec(['sh', '-c', 'echo "back on $0"', server.name]);
    expect(r.stdout).toBe(`back on ${server.name}\n`);
    // several channels at once work on the new connection
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => h.exec(['echo', String(i)])));
    expect(many.map((x) => x.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(h.stats().connections).toBe(2);
    expect(log.list).toContain(`reconnected to root@${server.address}:${server.port}`);
  });

  it('reconnect on a live connection replaces it (in-flight commands fail with connection-lost)', async () => {
    const server = await lab.startSshd({ name: 'live' });
    const h = await connect(server);
    // the rejection is caught from the start: it happens while reconnect() is awaited
    const inflight = rejection(h.exec(['sleep', '30']));
    await sleep(200);
    await h.reconnect({ timeoutMs: 20_000 });
    const err = await inflight;
    expect(err.code).toBe('connection-lost');
    expect((await h.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    expect(h.stats().connections).toBe(2);
  });

  it('a regenerated host key while away: host-key-mismatch at once, no retry, no command runs', async () => {
    const server = await lab.startSshd({ name: 'rekeyed' });
    const log = events();
    const h = await connect(server, { log: log.sink });
    const before = await server.fingerprint();
    await server.regenerateHostKey();
    expect(await server.fingerprint()).not.toBe(before);

    const err = await rejection(h.reconnect({ timeoutMs: 60_000, reason: 'reboot' }));
    expect(err.code).toBe('host-key-mismatch');
    expect(err.host).toBe('rekeyed');
    expect(log.list.filter((m) => /ssh connect attempt/.test(m))).toEqual([]);
    expect(h.connected).toBe(false);
    expect((await rejection(h.exec(['true']))).code).toBe('connection-lost');
  });

  it('a host that stays down: reconnect-timeout saying what it waited for, on which host, and the last error', async () => {
    const server = await lab.startSshd({ name: 'gone' });
    const h = await connect(server);
    await server.stop();
    const err = await rejection(h.reconnect({ timeoutMs: 1_500, reason: 'reboot' }));
    expect(err.code).toBe('reconnect-timeout');
    expect(err.host).toBe('gone');
    expect(err.message).toBe(
      `timed out after 1.5 s waiting for root@${server.address}:${server.port} to accept ssh again (reboot); last error: connection refused (${/\((\d+) attempts\)/.exec(err.message)?.[1]} attempts)`,
    );
    expect(Number(/\((\d+) attempts\)/.exec(err.message)?.[1])).toBeGreaterThan(1);
    expect(err.hint).toMatch(/check that gone is up/);
  });

  it('reconnect after close() is refused (a bug in the caller)', async () => {
    const server = await lab.startSshd({ name: 'closed' });
    const h = await connect(server);
    h.close();
    expect((await rejection(h.reconnect())).code).toBe('connection-closed');
  });
});
