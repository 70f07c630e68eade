import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REQUIRED_PACKAGES, hostPackages, packagesCheckScript, parseDpkgQuery, planPackages } from '../../../src/steps/host/packages.js';
import { FakeNode } from './fake-node.js';
import { clusterOf, stepCtx, threeNodes } from './context.js';

function dpkgInstalled(pkg: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${db:Status-Status}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString() === 'installed';
  } catch {
    return false;
  }
}

describe('host.packages', () => {
  it('the real check script reads dpkg on this machine (installed, missing and unknown packages)', () => {
    const wanted = ['bash', 'coreutils', ...REQUIRED_PACKAGES, 'no-such-package-kubi'];
    const out = execFileSync('bash', ['-s'], { input: packagesCheckScript(wanted) }).toString();
    const parsed = parseDpkgQuery(out, wanted);
    // the oracle: dpkg-query per package
    expect(parsed).toEqual(Object.fromEntries(wanted.map((p) => [p, dpkgInstalled(p)])));
    expect(parsed.bash).toBe(true);
    expect(parsed['no-such-package-kubi']).toBe(false);
  });

  it('ignores packages that are known but not installed (config files left)', () => {
    expect(parseDpkgQuery('socat config-files\nipset installed\nconntrack:amd64 installed\n', ['socat', 'ipset', 'conntrack'])).toEqual({
      socat: false,
      ipset: true,
      conntrack: true,
    });
  });

  it('plans one apt-get run for the missing packages only, with update first, non-interactive', () => {
    const changes = planPackages({ packageManager: 'apt', installed: { conntrack: false, socat: true, ipset: false, iptables: true } });
    expect(changes).toHaveLength(1);
    const c = changes[0]!;
    expect(c.kind).toBe('script');
    if (c.kind !== 'script') return;
    expect(c.title).toBe('apt-get install conntrack ipset');
    const lines = c.script.split('\n');
    expect(lines).toContain('export DEBIAN_FRONTEND=noninteractive');
    expect(lines.findIndex((l) => l.startsWith('apt-get update'))).toBeLessThan(lines.findIndex((l) => l.startsWith('apt-get install')));
    expect(c.script).toMatch(/apt-get install -y -q --no-install-recommends .* conntrack ipset$/m);
  });

  it('plans nothing on a converged host (no apt-get update either)', () => {
    expect(planPackages({ packageManager: 'apt', installed: Object.fromEntries(REQUIRED_PACKAGES.map((p) => [p, true])) })).toEqual([]);
  });

  it('refuses a host without apt-get, naming what to install', () => {
    expect(() => planPackages({ packageManager: 'dnf', installed: { conntrack: false, socat: true, ipset: true, iptables: true } })).toThrow(
      /cannot install conntrack: no apt-get on this host/,
    );
  });

  it('checks in one read-only round trip (scripted fake host)', async () => {
    const node = new FakeNode('node1').onScript('query installed packages', () => 'conntrack installed\nsocat installed\nipset installed\niptables installed\n');
    const ctx = stepCtx(clusterOf(threeNodes()), 'node1', node);
    expect(await hostPackages.plan(await hostPackages.check(ctx), ctx)).toEqual([]);
    expect(node.calls.map((c) => [c.kind, c.mutating])).toEqual([['script', false]]);
  });
});
