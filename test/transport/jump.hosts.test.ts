/**
 * Jump hosts against real sshd in network namespaces: the target is reachable only through the
 * jump host (root ns -> jump ns -> target ns; the target subnet is unreachable from the root
 * ns). A direct connection must fail and the jump must work, from the inventory setting
 * (jumpHost) and from ~/.ssh/config (ProxyJump).
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHosts } from '../../src/transport/pool.js';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import { SshdLab, type JumpNetwork, type SshdServer, rejection } from '../harness/sshd.js';

let lab: SshdLab;
let net: JumpNetwork;
let jump: SshdServer;
let tgt: SshdServer;
let home: string;
const hosts: SshHost[] = [];

function opts(stateDir: string, extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home }, retryDelayMs: 20, ...extra };
}

beforeAll(async () => {
  lab = await SshdLab.create();
  home = path.join(lab.dir, 'home');
  await fs.mkdir(home);
  net = await lab.createJumpNetwork();
  [jump, tgt] = await Promise.all([
    lab.startSshd({ name: 'jump', netns: net.jumpNs.name, address: net.jumpAddress, port: 22 }),
    lab.startSshd({ name: 'target', netns: net.targetNs.name, address: net.targetAddress, port: 22 }),
  ]);
});

afterAll(async () => {
  for (const h of hosts) h.close();
  await lab?.cleanup();
});

const targetHost = (extra: Partial<SshTarget> = {}): SshTarget => ({
  name: 'target',
  address: net.targetAddress,
  user: 'root',
  privateKeyPath: lab.keys.plain,
  ...extra,
});

describe('jump hosts', () => {
  it('cannot reach the target directly', async () => {
    const e = await rejection(SshHost.connect(targetHost(), opts(path.join(lab.dir, 'state-direct'), { connectRetries: 0 })));
    expect(e.code).toBe('ssh-connect-failed');
    expect(e.host).toBe('target');
    expect(e.message).toMatch(/host unreachable|network unreachable/);
  });

  it('reaches the target through jumpHost, and runs commands inside the target namespace', async () => {
    const stateDir = path.join(lab.dir, 'state-jump');
    const h = await SshHost.connect(targetHost({ jumpHost: `root@${net.jumpAddress}:22` }), opts(stateDir));
    hosts.push(h);
    const addrs = (await h.exec(['ip', '-4', '-o', 'addr', 'show'])).stdout;
    expect(addrs).toContain(net.targetAddress);
    expect(addrs).not.toContain(net.jumpAddress);
    expect(h.stats().connections).toBe(2);
    // both host keys are recorded, each under its own name
    const known = readFileSync(path.join(stateDir, 'known_hosts'), 'utf8');
    expect(known).toContain(`target,${net.targetAddress} ssh-ed25519 `);
    expect(known).toContain(`${net.jumpAddress},${net.jumpAddress} ssh-ed25519 `);
    // the target saw the connection coming from the jump host's side of its link
    expect(tgt.log()).toMatch(new RegExp(`Accepted publickey for root from ${net.targetAddress.replace(/\.2$/, '.1').replace(/\./g, '\\.')}`));
  });

  it('shares one jump connection between the hosts behind it (pool)', async () => {
    const stateDir = path.join(lab.dir, 'state-pool');
    const jumpSpec = `root@${net.jumpAddress}`;
    const pool = await connectHosts(
      [targetHost({ jumpHost: jumpSpec }), { ...targetHost({ jumpHost: jumpSpec }), name: 'target-again' }],
      opts(stateDir),
    );
    try {
      const [a, b] = await Promise.all([pool.get('target').exec(['hostname']), pool.get('target-again').exec(['hostname'])]);
      expect(a.stdout).toBe(b.stdout);
      expect(pool.stats().connections).toBe(3); // 2 targets + 1 shared jump connection
    } finally {
      pool.closeAll();
    }
  });

  it('follows ProxyJump and HostName from ~/.ssh/config', async () => {
    const cfg = path.join(lab.dir, 'ssh_config');
    await fs.writeFile(
      cfg,
      ['Host inner', `  HostName ${net.targetAddress}`, '  ProxyJump bastion', 'Host bastion', `  HostName ${net.jumpAddress}`, '  User root', ''].join('\n'),
    );
    const stateDir = path.join(lab.dir, 'state-config');
    const h = await SshHost.connect(
      { name: 'inner', address: '127.0.0.254', user: 'root', privateKeyPath: lab.keys.plain, useSshConfig: true },
      opts(stateDir, { sshConfigPath: cfg }),
    );
    hosts.push(h);
    expect((await h.exec(['ip', '-4', '-o', 'addr', 'show'])).stdout).toContain(net.targetAddress);
    expect(h.target.jump).toMatchObject({ name: 'bastion', connectHost: net.jumpAddress });
    expect(readFileSync(path.join(stateDir, 'known_hosts'), 'utf8')).toContain(`bastion,${net.jumpAddress} `);
  });

  it('names the unreachable target when the jump host cannot reach it', async () => {
    const e = await rejection(
      SshHost.connect(
        targetHost({ name: 'ghost', address: net.targetAddress, port: 2999, jumpHost: `root@${net.jumpAddress}` }),
        opts(path.join(lab.dir, 'state-ghost'), { connectRetries: 1 }),
      ),
    );
    expect(e.code).toBe('ssh-connect-failed');
    expect(e.host).toBe('ghost');
    expect(e.message).toMatch(/via root@.*:22: the jump host could not reach it/);
    expect(e.message).toMatch(/\(2 attempts\)/);
    void jump;
  });

  // last: it breaks the network of this file
  it('notices a silently dead link by keepalive and fails the running command with connection-lost', async () => {
    const h = await SshHost.connect(
      targetHost({ name: 'fragile', jumpHost: `root@${net.jumpAddress}` }),
      opts(path.join(lab.dir, 'state-fragile'), { keepaliveIntervalMs: 300, keepaliveCountMax: 2 }),
    );
    hosts.push(h);
    expect((await h.exec(['true'])).exitCode).toBe(0);
    const running = h.exec(['sleep', '30'], { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    await net.cutTarget();
    const e = await rejection(running);
    expect(e.code).toBe('connection-lost');
    expect(e.host).toBe('fragile');
    expect(e.message).toMatch(/keepalive/i);
    expect((await rejection(h.exec(['true']))).code).toBe('connection-lost');
  }, 30_000);
});
