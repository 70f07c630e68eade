/** connectForVerify with a stand-in connect function (TEST DOUBLE for the ssh pool): unreachable hosts become reasons, the rest stay connected. */
import { describe, expect, it } from 'vitest';
import { KubiError } from '../../src/errors.js';
import { connectForVerify } from '../../src/smoke/connect.js';
import { ConnectHostsError, type HostPool, type SshTarget } from '../../src/transport/index.js';
import { ScriptedHost } from './harness/scripted-host.js';

const targets: SshTarget[] = ['node1', 'node2', 'node3'].map((name, i) => ({ name, address: `10.77.0.1${i + 1}` }));

function fakeConnect(down: Record<string, KubiError>) {
  const calls: string[][] = [];
  let closed = 0;
  const connect = async (ts: readonly SshTarget[]): Promise<HostPool> => {
    calls.push(ts.map((t) => t.name));
    const failures = ts.filter((t) => down[t.name]).map((t) => ({ host: t.name, error: down[t.name]! }));
    if (failures.length === 1) throw failures[0]!.error;
    if (failures.length > 1) throw new ConnectHostsError(failures);
    const hosts = new Map(ts.map((t) => [t.name, new ScriptedHost(t.name, t.address, []) as never]));
    return { hosts, get: (n: string) => hosts.get(n)!, stats: () => ({ connections: 0, roundTrips: 0, bytesSent: 0, bytesReceived: 0 }), closeAll: () => void closed++ };
  };
  return { connect, calls, closed: () => closed };
}

describe('connectForVerify', () => {
  it('connects everyone when all answer', async () => {
    const f = fakeConnect({});
    const c = await connectForVerify(targets, {}, f.connect);
    expect([...c.remotes.keys()]).toEqual(['node1', 'node2', 'node3']);
    expect(c.unreachable.size).toBe(0);
    expect(f.calls).toEqual([['node1', 'node2', 'node3']]);
    c.closeAll();
    expect(f.closed()).toBe(1);
  });

  it('keeps the reasons of unreachable hosts and connects the others again', async () => {
    const f = fakeConnect({
      node2: new KubiError('ssh-connect-failed', 'cannot connect to node2 (10.77.0.12:22): connect ECONNREFUSED', { host: 'node2' }),
      node3: new KubiError('host-key-mismatch', 'the host key of node3 changed: was SHA256:aaa, now SHA256:bbb', { host: 'node3', hint: 'if node3 was rebuilt: kubi-provision forget-host lab.yaml node3' }),
    });
    const c = await connectForVerify(targets, {}, f.connect);
    expect([...c.remotes.keys()]).toEqual(['node1']);
    expect(Object.fromEntries(c.unreachable)).toEqual({
      node2: 'cannot connect to node2 (10.77.0.12:22): connect ECONNREFUSED',
      node3: 'the host key of node3 changed: was SHA256:aaa, now SHA256:bbb; if node3 was rebuilt: kubi-provision forget-host lab.yaml node3',
    });
    expect(f.calls).toEqual([['node1', 'node2', 'node3'], ['node1']]);
  });

  it('one failing host (a plain KubiError with its host) is handled the same way', async () => {
    const f = fakeConnect({ node1: new KubiError('ssh-auth-failed', 'node1 refused our keys', { host: 'node1' }) });
    const c = await connectForVerify(targets, {}, f.connect);
    expect([...c.remotes.keys()]).toEqual(['node2', 'node3']);
    expect(c.unreachable.get('node1')).toBe('node1 refused our keys');
  });

  it('rethrows errors that name no host (a bug, not an unreachable host)', async () => {
    const connect = async (): Promise<HostPool> => {
      throw new KubiError('internal', 'connectHosts needs a state directory');
    };
    await expect(connectForVerify(targets, {}, connect)).rejects.toThrow(/needs a state directory/);
  });
});
