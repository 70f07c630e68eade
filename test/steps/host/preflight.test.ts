import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { parseListeners, parseProbes, preflightProblems, type PreflightObserved } from '../../../src/steps/host/preflight-rules.js';
import { PreflightError, hostPreflight, parsePreflight, preflightScript } from '../../../src/steps/host/preflight.js';
import type { Facts } from '../../../src/facts/types.js';
import { FakeNode } from './fake-node.js';
import { clusterOf, goodFacts, stepCtx, threeNodes } from './context.js';

const clean: PreflightObserved = { listeners: [], probes: [], machineId: 'a'.repeat(32) };

function input(over: Partial<Facts> = {}, observed: PreflightObserved = clean, hostIndex = 0, inv = threeNodes()) {
  const host = inv.hosts[hostIndex]!;
  const facts = { ...goodFacts(host.name), ...over };
  const allFacts = new Map(inv.hosts.map((h) => [h.name, h.name === host.name ? facts : goodFacts(h.name)]));
  return { host, inventory: inv, facts, allFacts, observed };
}

describe('preflight rules', () => {
  it('passes a good Debian host', () => {
    expect(preflightProblems(input())).toEqual([]);
  });

  it('refuses an unsupported operating system with a hint', () => {
    const p = preflightProblems(input({ os: { id: 'fedora', versionId: '40', prettyName: 'Fedora Linux 40', codename: null, idLike: [] }, packageManager: 'dnf' }));
    expect(p.map((x) => x.code)).toEqual(['os-unsupported']);
    expect(p[0]!.message).toBe('unsupported operating system Fedora Linux 40');
    expect(p[0]!.hint).toMatch(/Debian.*Ubuntu.*Raspberry Pi OS/);
  });

  it('accepts Ubuntu and Raspberry Pi OS (raspbian)', () => {
    for (const id of ['ubuntu', 'raspbian']) {
      expect(preflightProblems(input({ os: { id, versionId: 'x', prettyName: id, codename: null, idLike: ['debian'] } }))).toEqual([]);
    }
  });

  it('refuses armhf for etcd and containerd, naming the alternative', () => {
    const p = preflightProblems(input({ arch: 'armhf', archSource: { dpkg: 'armhf', uname: 'aarch64' } }));
    expect(p.map((x) => x.code)).toEqual(['arch-armhf']);
    expect(p[0]!.message).toBe('etcd and containerd publish no 32-bit ARM (armhf) builds');
    expect(p[0]!.hint).toMatch(/64-bit OS/);
  });

  it('refuses an inventory arch that does not match the host', () => {
    const inv = threeNodes();
    const withArch = Inventory.parse({ ...inv, hosts: inv.hosts.map((h, i) => (i === 0 ? { ...h, arch: 'arm64' } : h)) });
    expect(preflightProblems(input({}, clean, 0, withArch)).map((x) => x.code)).toEqual(['arch-mismatch']);
  });

  it('refuses too little memory and too little disk under /var, with the numbers', () => {
    const p = preflightProblems(input({ memory: { totalBytes: 256 * 1024 ** 2, availableBytes: 0 }, diskFreeVarBytes: 1024 ** 3 }));
    expect(p.map((x) => x.message)).toEqual([
      'only 256 MiB of memory (needs at least 512 MiB)',
      'only 1.0 GiB free under /var (needs at least 2.0 GiB)',
    ]);
  });

  it('refuses a port taken by a foreign process, accepts our own etcd on it', () => {
    const ss = [
      'LISTEN 0      4096      10.77.0.11:2379       0.0.0.0:*    users:(("etcd",pid=812,fd=9))',
      'LISTEN 0      4096       127.0.0.1:2379       0.0.0.0:*    users:(("etcd",pid=812,fd=8))',
      'LISTEN 0      511          0.0.0.0:6443       0.0.0.0:*    users:(("nginx",pid=77,fd=6),("nginx",pid=78,fd=6))',
      'LISTEN 0      128             [::]:10250         [::]:*',
    ].join('\n');
    const listeners = parseListeners(ss);
    expect(listeners[2]).toEqual({ address: '0.0.0.0', port: 6443, processes: [{ name: 'nginx', pid: 77 }, { name: 'nginx', pid: 78 }] });
    const p = preflightProblems(input({}, { ...clean, listeners }));
    expect(p.map((x) => x.message)).toEqual([
      'port 6443 (kubernetes api) is already taken by nginx (pid 77), nginx (pid 78)',
      'port 10250 (kubelet) is already taken by an unknown process',
    ]);
  });

  it('refuses two hosts that report the same host name', () => {
    const inv = threeNodes();
    const p = preflightProblems({ ...input(), allFacts: new Map(inv.hosts.map((h) => [h.name, goodFacts('node1')])) });
    expect(p.map((x) => x.message)).toEqual(['node2 reports the same host name node1', 'node3 reports the same host name node1']);
  });

  it('refuses unreachable peers but accepts a refused connection (the path answered)', () => {
    const probes = parseProbes(['node2 10.77.0.12 2380 refused Connection refused', 'node3 10.77.0.13 2380 timeout', 'node3 10.77.0.13 22 open'].join('\n'));
    const p = preflightProblems(input({}, { ...clean, probes }));
    expect(p.map((x) => x.code)).toEqual(['peer-unreachable']);
    expect(p[0]!.message).toBe('cannot reach node3 (10.77.0.13:2380): timeout');
  });
});

describe('host.preflight step (scripted fake host)', () => {
  it('is up to date on a good host and sends one read-only script', async () => {
    const inv = threeNodes();
    const cluster = clusterOf(inv);
    const node = new FakeNode('node1', '10.77.0.11').onScript('preflight checks', () => '\n@@kubi:machine-id@@\nabc\n@@kubi:listen@@\n\n@@kubi:probes@@\nnode2 10.77.0.12 2380 refused x\n');
    const ctx = stepCtx(cluster, 'node1', node);
    expect(await hostPreflight.plan(await hostPreflight.check(ctx), ctx)).toEqual([]);
    expect(node.calls.map((c) => [c.kind, c.mutating])).toEqual([['script', false]]);
  });

  it('refuses a cloned machine-id, naming the other host, and lists every problem at once', async () => {
    const inv = threeNodes();
    const facts = new Map(inv.hosts.map((h) => [h.name, goodFacts(h.name)]));
    facts.set('node2', { ...goodFacts('node2'), memory: { totalBytes: 100 * 1024 ** 2, availableBytes: 0 } });
    const cluster = clusterOf(inv, { facts });
    const answer = () => '\n@@kubi:machine-id@@\n0123456789abcdef0123456789abcdef\n@@kubi:listen@@\n@@kubi:probes@@\n';
    const n1 = new FakeNode('node1').onScript('preflight checks', answer);
    const n2 = new FakeNode('node2').onScript('preflight checks', answer);
    const c1 = stepCtx(cluster, 'node1', n1);
    const c2 = stepCtx(cluster, 'node2', n2);
    expect(await hostPreflight.plan(await hostPreflight.check(c1), c1)).toEqual([]);
    const observed = await hostPreflight.check(c2);
    let err: unknown;
    try {
      await hostPreflight.plan(observed, c2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PreflightError);
    const pe = err as PreflightError;
    expect(pe.host).toBe('node2');
    expect(pe.step).toBe('host.preflight');
    expect(pe.problems.map((p) => p.code)).toEqual(['memory-low', 'machine-id-duplicate']);
    expect(pe.message).toBe('only 100 MiB of memory (needs at least 512 MiB) (and 1 more: node1 has the same machine-id 01234567… (a cloned image))');
    expect(pe.hint).toContain('systemd-machine-id-setup');
  });
});

/**
 * The real check script, run with the real bash, ss and /dev/tcp inside a network namespace this
 * test creates (all probe traffic stays in it): a listener that answers, a port that refuses, an
 * address behind a veth that never answers (timeout) and one without a route (unreachable).
 */
describe('preflight script on this machine (real bash, ss, TCP)', () => {
  const ns = `kubih8pf-${randomBytes(3).toString('hex')}`;
  let listener: ChildProcess | undefined;

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args]);
    inNs('ip', 'link', 'set', 'lo', 'up');
    // a veth pair whose far end has no stack behind it, plus a fixed neighbour entry: SYNs to
    // 10.99.0.2 leave and are never answered (a silent host)
    inNs('ip', 'link', 'add', 'kv0', 'type', 'veth', 'peer', 'name', 'kv1');
    inNs('ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'kv0');
    inNs('ip', 'link', 'set', 'kv0', 'up');
    inNs('ip', 'link', 'set', 'kv1', 'up');
    inNs('ip', 'neigh', 'add', '10.99.0.2', 'lladdr', '02:00:00:00:99:02', 'dev', 'kv0', 'nud', 'permanent');
    listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",2380))\ns.listen()\nprint("ready",flush=True)\ntime.sleep(120)'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise<void>((resolve) => listener!.stdout!.once('data', () => resolve()));
  });

  afterAll(() => {
    if (listener?.pid) {
      try {
        process.kill(listener.pid);
      } catch {
        /* gone */
      }
    }
    // the python child of `ip netns exec` exits with its parent's namespace gone; kill by pid list of the ns
    const pids = execFileSync('ip', ['netns', 'pids', ns]).toString().split('\n').filter(Boolean);
    for (const p of pids) process.kill(Number(p), 'SIGKILL');
    execFileSync('ip', ['netns', 'delete', ns]);
  });

  it('reports open, skipped, timeout and unreachable peers, and the foreign listener on 2380', async () => {
    const inv = Inventory.parse({
      cluster: { name: 'pf' },
      endpoint: { mode: 'none' },
      hosts: [
        { name: 'self', address: '127.0.0.1', roles: ['etcd'] },
        { name: 'listening', address: '127.0.0.1', roles: ['etcd'], ssh: { port: 1 } },
        { name: 'closed', address: '127.0.0.2', roles: ['agent'], ssh: { port: 1 } },
        { name: 'silent', address: '10.99.0.2', roles: ['agent'] },
        { name: 'noroute', address: '10.123.0.1', roles: ['agent'] },
      ],
    });
    const cluster = clusterOf(inv);
    const script = preflightScript({ host: inv.hosts[0]!, cluster });
    const out = execFileSync('ip', ['netns', 'exec', ns, 'bash', '-s'], { input: script }).toString();
    const observed = parsePreflight(out);
    const byTarget = Object.fromEntries(observed.probes.map((p) => [`${p.peer}:${p.port}`, p.result]));
    expect(byTarget).toEqual({
      'listening:2380': 'open',
      'closed:1': 'refused',
      'listening:1': 'skipped', // 2380 of the same peer answered: the path is proven, its sshd is spared
      'noroute:22': 'unreachable',
      'silent:22': 'timeout',
    });
    expect(observed.probes.find((p) => p.peer === 'listening' && p.port === 1)?.detail).toBe('the path is proven by port 2380');
    const l = observed.listeners.find((x) => x.port === 2380);
    expect(l?.processes[0]?.name).toBe('python3');
    const problems = preflightProblems({ host: inv.hosts[0]!, inventory: inv, facts: goodFacts('self'), allFacts: new Map(), observed });
    expect(problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^port 2380 \(etcd peer\) is already taken by python3 \(pid \d+\)$/),
      'cannot reach noroute (10.123.0.1:22): unreachable (Network is unreachable)',
      'cannot reach silent (10.99.0.2:22): timeout',
    ]);
  });
});
