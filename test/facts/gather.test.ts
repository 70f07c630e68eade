/**
 * gatherFacts end to end on THIS machine: the real facts script run by the real bash (through a
 * local RemoteHost, no SSH), compared with what Node itself reads from the same system.
 */
import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { gatherFacts, describeFacts } from '../../src/facts/index.js';
import { LocalShellHost } from './local-host.js';

describe('gatherFacts on this machine', () => {
  it('uses one read-only round trip and matches what Node sees', async () => {
    const host = new LocalShellHost('workstation');
    const facts = await gatherFacts(host);

    expect(host.stats().roundTrips).toBe(1);
    expect(host.scripts).toHaveLength(1);
    expect(host.scripts[0]?.opts).toMatchObject({ sudo: false, mutating: false });

    expect(facts.hostname).toBe(os.hostname());
    const machineId = (() => { try { return readFileSync('/etc/machine-id', 'utf8').trim(); } catch { return ''; } })();
    expect(facts.machineId).toBe(/^[0-9a-f]{32}$/.test(machineId) ? machineId : undefined);
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    expect(osRelease).toContain(`ID=${facts.os.id}`);
    expect(facts.kernel.release).toBe(os.release());
    const nodeArch = { x64: 'amd64', arm64: 'arm64', arm: 'armhf' }[process.arch as string];
    expect(facts.arch).toBe(nodeArch);
    expect(facts.memory.totalBytes).toBe(os.totalmem());
    expect(facts.isRoot).toBe(process.getuid?.() === 0);

    const fs = statfsSync('/var');
    // free space moves while tests run: same order of magnitude is the honest check
    expect(Math.abs(facts.diskFreeVarBytes - fs.bavail * fs.bsize)).toBeLessThan(2 * 1024 ** 3);

    const nodeAddrs = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4')
      .map((a) => a!.cidr);
    expect(facts.interfaces.flatMap((i) => i.ipv4).sort()).toEqual([...nodeAddrs].sort());

    expect(describeFacts(facts)).toMatch(new RegExp(`^${os.hostname()}: ${facts.os.id} `));
  });

  it('a script that fails is a facts error naming the host', async () => {
    const host = new LocalShellHost('broken');
    const failing = Object.assign(Object.create(Object.getPrototypeOf(host)), host, {
      script: (_s: string, opts: object) => host.exec(['bash', '-c', 'echo boom >&2; exit 3'], opts),
    }) as LocalShellHost;
    await expect(gatherFacts(failing)).rejects.toMatchObject({ code: 'facts-unreadable', host: 'broken' });
  });
});
