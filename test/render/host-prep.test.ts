import { describe, expect, it } from 'vitest';
import { HOST_PREP_PATHS, hostPrepFiles, renderModulesLoad, renderSysctl } from '../../src/render/index.js';

const body = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));

describe('host preparation', () => {
  it('loads overlay and br_netfilter at boot', () => {
    expect(body(renderModulesLoad())).toEqual(['overlay', 'br_netfilter']);
  });

  it('turns on forwarding and bridge netfilter for IPv4 and IPv6', () => {
    const settings = Object.fromEntries(body(renderSysctl()).map((l) => l.split('=').map((s) => s.trim()) as [string, string]));
    expect(settings).toEqual({
      'net.ipv4.ip_forward': '1',
      'net.bridge.bridge-nf-call-iptables': '1',
      'net.bridge.bridge-nf-call-ip6tables': '1',
    });
  });

  it('ships both files', () => {
    expect(hostPrepFiles().map((f) => [f.path, f.mode])).toEqual([
      [HOST_PREP_PATHS.modulesLoad, 0o644],
      [HOST_PREP_PATHS.sysctl, 0o644],
    ]);
  });
});
