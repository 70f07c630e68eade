/**
 * The hosts layer probe: the real script run with bash on this machine (its output parsed), plus
 * outputs written for the cases this machine cannot show (loadable modules, swap, wrong sysctls).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hostProbeScript, moduleState, parseHostProbe, parseSwaps, sysctlMismatches } from '../../src/smoke/parse/host.js';

const MODULES = ['overlay', 'br_netfilter'];
const SYSCTLS: [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.bridge.bridge-nf-call-iptables', '1'],
  ['net.bridge.bridge-nf-call-ip6tables', '1'],
];

describe('host probe on this machine (real bash, real /proc)', () => {
  const out = execFileSync('bash', ['-s'], { input: hostProbeScript(MODULES, [...SYSCTLS.map(([k]) => k), 'net.nonexistent.key']), encoding: 'utf8' });
  const probe = parseHostProbe(out);

  it('reads sysctls from /proc/sys exactly as the kernel reports them', () => {
    const direct = execFileSync('cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim();
    expect(probe.sysctls.get('net.ipv4.ip_forward')).toBe(direct);
    expect(probe.sysctls.has('net.nonexistent.key')).toBe(false);
  });

  it('reads swap devices from /proc/swaps', () => {
    expect(probe.swapDevices).toEqual(parseSwaps(execFileSync('cat', ['/proc/swaps'], { encoding: 'utf8' })));
  });

  it('finds overlay (in /proc/filesystems here) whether loaded or built in', () => {
    const fs = execFileSync('cat', ['/proc/filesystems'], { encoding: 'utf8' });
    expect(moduleState('overlay', probe).present).toBe(/\toverlay$/m.test(fs));
  });

  it('knows whether this kernel has /proc/modules', () => {
    let hasProcModules = true;
    try {
      execFileSync('test', ['-r', '/proc/modules']);
    } catch {
      hasProcModules = false;
    }
    expect(probe.procModules === null).toBe(!hasProcModules);
  });
});

/** Probe output of a VM with loadable modules, swap on, and a sysctl wrong (written for the test). */
const vmOutput = [
  '',
  '@@kubi:swaps@@',
  'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority',
  '/dev/vda2                               partition\t1048572\t\t0\t\t-2',
  '/swapfile                               file\t\t524284\t\t0\t\t-3',
  '@@kubi:modules@@',
  'br_netfilter',
  'bridge',
  'stp',
  '@@kubi:sys-module@@',
  'br_netfilter',
  '@@kubi:filesystems@@',
  'ext4',
  '@@kubi:bridge@@',
  'present',
  '@@kubi:sysctls@@',
  'net.ipv4.ip_forward=0',
  'net.bridge.bridge-nf-call-iptables=1',
  'net.bridge.bridge-nf-call-ip6tables',
  '',
].join('\n');

describe('parseHostProbe (written outputs)', () => {
  const p = parseHostProbe(vmOutput);

  it('lists active swap devices', () => {
    expect(p.swapDevices).toEqual(['/dev/vda2', '/swapfile']);
    expect(parseSwaps('Filename\tType\tSize\tUsed\tPriority\n')).toEqual([]);
  });

  it('tells loaded, built-in and missing modules apart', () => {
    expect(moduleState('br_netfilter', p)).toEqual({ name: 'br_netfilter', present: true, how: 'loaded' });
    expect(moduleState('overlay', p)).toEqual({ name: 'overlay', present: false, how: 'not loaded' });
    const builtIn = parseHostProbe(vmOutput.replace('@@kubi:modules@@\n', '@@kubi:modules@@\n@@no-proc-modules\n').replace('ext4', 'ext4\noverlay'));
    expect(builtIn.procModules).toBeNull();
    expect(moduleState('overlay', builtIn)).toEqual({ name: 'overlay', present: true, how: 'built in (overlay is in /proc/filesystems)' });
    const noBridge = parseHostProbe(vmOutput.replace('@@kubi:modules@@\nbr_netfilter\n', '@@kubi:modules@@\n').replace('@@kubi:sys-module@@\nbr_netfilter\n', '@@kubi:sys-module@@\n').replace('present', ''));
    expect(moduleState('br_netfilter', noBridge)).toEqual({ name: 'br_netfilter', present: false, how: 'not loaded' });
  });

  it('reports sysctls with a wrong value or missing', () => {
    expect(sysctlMismatches(SYSCTLS, p)).toEqual([
      { name: 'net.ipv4.ip_forward', expected: '1', actual: '0' },
      { name: 'net.bridge.bridge-nf-call-ip6tables', expected: '1', actual: null },
    ]);
  });

  it('quotes module and sysctl names into the script', () => {
    const s = hostProbeScript(["it's"], ['a b']);
    expect(s).toContain(`for m in 'it'\\''s'; do`);
    expect(s).toContain(`for k in 'a b'; do`);
  });
});
