/**
 * gatherFacts over a REAL SSH connection (the project's ssh2 transport against a real OpenSSH
 * server from test/harness/sshd.ts, on loopback): one read-only round trip, and the same facts
 * as the script run locally; as root and as a non-root login (no sudo used).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherFacts } from '../../src/facts/index.js';
import { SshHost } from '../../src/transport/ssh.js';
import { NOPASSWD_USER, SshdLab, type SshdServer } from '../harness/sshd.js';
import { LocalShellHost } from './local-host.js';

let lab: SshdLab;
let server: SshdServer;
const hosts: SshHost[] = [];

beforeAll(async () => {
  lab = await SshdLab.create();
  await lab.createUsers();
  server = await lab.startSshd({ name: 'factshost' });
});

afterAll(async () => {
  for (const h of hosts) h.close();
  await lab?.cleanup();
});

async function connect(user: string): Promise<SshHost> {
  const home = path.join(lab.dir, `home-${user}`);
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const h = await SshHost.connect(
    { name: 'factshost', address: server.address, port: server.port, user, privateKeyPath: lab.keys.plain },
    { stateDir: path.join(lab.dir, `state-${user}`), env: { HOME: home, USER: 'root' }, retryDelayMs: 20 },
  );
  hosts.push(h);
  return h;
}

describe('gatherFacts over ssh', () => {
  it('as root: one round trip, same facts as the local run', async () => {
    const remote = await connect('root');
    const before = remote.stats().roundTrips;
    const facts = await gatherFacts(remote);
    expect(remote.stats().roundTrips - before).toBe(1);

    const local = await gatherFacts(new LocalShellHost());
    expect(facts.isRoot).toBe(true);
    for (const key of ['hostname', 'os', 'kernel', 'arch', 'archSource', 'cgroup', 'systemd', 'packageManager', 'container'] as const) {
      expect(facts[key], key).toEqual(local[key]);
    }
    expect(facts.interfaces.map((i) => i.name)).toEqual(local.interfaces.map((i) => i.name));
    expect(facts.memory.totalBytes).toBe(local.memory.totalBytes);
  });

  it('as a non-root login: isRoot false, everything else still readable without sudo', async () => {
    const remote = await connect(NOPASSWD_USER);
    const facts = await gatherFacts(remote);
    expect(facts.isRoot).toBe(false);
    expect(facts.kernel.machine).not.toBe('');
    expect(facts.memory.totalBytes).toBeGreaterThan(0);
    expect(facts.diskFreeVarBytes).toBeGreaterThan(0);
    expect(facts.interfaces.length).toBeGreaterThan(0);
  });
});
