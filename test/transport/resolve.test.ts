import { describe, expect, it } from 'vitest';
import { Inventory } from '../../src/inventory/schema.js';
import { describeTarget, parseJumpSpec, resolveTarget } from '../../src/transport/resolve.js';
import { parseSshConfig } from '../../src/transport/ssh-config.js';
import { targetFor, targetsFromInventory } from '../../src/transport/targets.js';

const ctx = { home: '/home/me', localUser: 'me', agentSocket: '/run/agent.sock' };

describe('targets from the inventory', () => {
  const inv = Inventory.parse({
    cluster: { name: 'lab' },
    endpoint: { mode: 'none' },
    ssh: { user: 'admin', privateKey: 'keys/id_ed25519', commandTimeoutMs: 60_000 },
    hosts: [
      { name: 'a', address: '10.0.0.1', roles: ['etcd', 'server'] },
      { name: 'b', address: '10.0.0.2', roles: ['agent'], ssh: { user: 'root', port: 2222, jumpHost: 'bastion' } },
    ],
  });

  it('merges cluster defaults with per-host overrides, key by key', () => {
    const [a, b] = targetsFromInventory(inv, { baseDir: '/inv' });
    expect(a).toEqual({ name: 'a', address: '10.0.0.1', user: 'admin', privateKeyPath: '/inv/keys/id_ed25519', commandTimeoutMs: 60_000 });
    expect(b).toEqual({
      name: 'b',
      address: '10.0.0.2',
      user: 'root',
      port: 2222,
      privateKeyPath: '/inv/keys/id_ed25519',
      jumpHost: 'bastion',
      commandTimeoutMs: 60_000,
    });
  });

  it('leaves ~ for the transport to expand', () => {
    const inv2 = Inventory.parse({ ...inv, ssh: { privateKey: '~/.ssh/k' } });
    expect(targetFor(inv2, inv2.hosts[0]!, { baseDir: '/inv' }).privateKeyPath).toBe('~/.ssh/k');
  });
});

describe('resolveTarget', () => {
  it('fills defaults: root, port 22, sudo off for root, agent + default keys', () => {
    const r = resolveTarget({ name: 'n', address: '10.0.0.1' }, ctx);
    expect(r).toMatchObject({ user: 'root', port: 22, sudo: false, connectHost: '10.0.0.1', agentSocket: '/run/agent.sock', explicitIdentity: false });
    expect(r.identityFiles).toEqual(['/home/me/.ssh/id_ed25519', '/home/me/.ssh/id_ecdsa', '/home/me/.ssh/id_rsa']);
  });

  it('uses only the named key unless agent is asked for; sudo for non-root users', () => {
    const r = resolveTarget({ name: 'n', address: 'a', user: 'pi', privateKeyPath: '~/k' }, ctx);
    expect(r).toMatchObject({ identityFiles: ['/home/me/k'], explicitIdentity: true, agentSocket: null, sudo: true });
    expect(resolveTarget({ name: 'n', address: 'a', privateKeyPath: '/k', agent: true }, ctx).agentSocket).toBe('/run/agent.sock');
    expect(resolveTarget({ name: 'n', address: 'a', user: 'pi', sudo: false }, ctx).sudo).toBe(false);
  });

  it('applies ~/.ssh/config only when asked, and never over inventory settings', () => {
    const sshConfig = parseSshConfig('Host n1\n  HostName n1.lab\n  User pi\n  Port 2200\n  IdentityFile ~/.ssh/lab\n');
    const off = resolveTarget({ name: 'n1', address: '10.0.0.1' }, { ...ctx, sshConfig });
    expect(off.connectHost).toBe('10.0.0.1');
    const on = resolveTarget({ name: 'n1', address: '10.0.0.1', useSshConfig: true }, { ...ctx, sshConfig });
    expect(on).toMatchObject({ connectHost: 'n1.lab', address: '10.0.0.1', user: 'pi', port: 2200, identityFiles: ['/home/me/.ssh/lab'], agentSocket: null });
    const pinned = resolveTarget({ name: 'n1', address: '10.0.0.1', useSshConfig: true, user: 'root', port: 22 }, { ...ctx, sshConfig });
    expect(pinned).toMatchObject({ user: 'root', port: 22, connectHost: 'n1.lab' });
  });

  it('parses a ProxyJump chain into nested hops (first hop outermost)', () => {
    const r = resolveTarget({ name: 'n', address: '10.0.0.5', user: 'pi', privateKeyPath: '/k', jumpHost: 'ops@gw1:2200,bastion' }, ctx);
    expect(r.jump).toMatchObject({ name: 'bastion', connectHost: 'bastion', port: 22, user: 'pi', identityFiles: ['/k'] });
    expect(r.jump!.jump).toMatchObject({ name: 'gw1', user: 'ops', port: 2200 });
    expect(describeTarget(r)).toBe('pi@10.0.0.5:22 via pi@bastion:22 via ops@gw1:2200');
  });

  it('takes ProxyJump from ssh config and resolves the hop through it too', () => {
    const sshConfig = parseSshConfig('Host n*\n  ProxyJump jump\nHost jump\n  HostName 192.0.2.7\n  Port 2022\n  User ops\n');
    const r = resolveTarget({ name: 'n2', address: '10.0.0.2', useSshConfig: true }, { ...ctx, sshConfig });
    expect(r.jump).toMatchObject({ name: 'jump', connectHost: '192.0.2.7', port: 2022, user: 'ops', jump: null });
  });

  it('refuses a ProxyJump loop with a clear error', () => {
    const sshConfig = parseSshConfig('Host *\n  ProxyJump hop\n');
    expect(() => resolveTarget({ name: 'n', address: 'a', useSshConfig: true }, { ...ctx, sshConfig })).toThrow(/jump host chain for .* is longer than/);
  });
});

describe('parseJumpSpec', () => {
  it.each([
    ['bastion', { host: 'bastion' }],
    ['ops@bastion', { user: 'ops', host: 'bastion' }],
    ['ops@10.0.0.1:2222', { user: 'ops', host: '10.0.0.1', port: 2222 }],
    ['[fd00::1]:22', { host: 'fd00::1', port: 22 }],
  ])('%s', (spec, expected) => {
    expect(parseJumpSpec(spec)).toEqual(expected);
  });

  it.each(['', 'a b', 'host:99999', 'u@', '@host'])('refuses %j with a usage error', (spec) => {
    expect(() => parseJumpSpec(spec)).toThrow(/jump host/);
  });
});
