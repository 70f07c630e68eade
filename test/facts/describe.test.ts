/** interfaceFor and describeFacts on the fixtures. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeFacts, interfaceFor, parseFacts } from '../../src/facts/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const pi = parseFacts(readFileSync(path.join(dir, 'rpi-os-bullseye-armhf-on-aarch64.reconstructed.txt'), 'utf8'));
const ws = parseFacts(readFileSync(path.join(dir, 'debian12-workstation-amd64.txt'), 'utf8'));

describe('interfaceFor', () => {
  it('finds the interface holding an address', () => {
    expect(interfaceFor(pi, '192.168.50.23')?.name).toBe('eth0');
    expect(interfaceFor(ws, '192.0.2.2')?.name).toBe('eth0');
    expect(interfaceFor(ws, '127.0.0.1')?.name).toBe('lo');
  });

  it('finds the interface whose subnet holds a VIP', () => {
    expect(interfaceFor(pi, '192.168.50.200')?.name).toBe('eth0');
    expect(interfaceFor(pi, '192.168.50.200/24')?.name).toBe('eth0');
  });

  it('returns null outside every subnet (and never picks loopback by subnet)', () => {
    expect(interfaceFor(pi, '10.0.0.1')).toBeNull();
    expect(interfaceFor(pi, '127.0.0.53')).toBeNull();
    expect(interfaceFor(pi, 'not-an-ip')).toBeNull();
  });
});

describe('describeFacts', () => {
  it('one line with the facts that matter', () => {
    const line = describeFacts(pi);
    expect(line).not.toContain('\n');
    expect(line).toBe(
      'pi-node3: raspbian 11 (bullseye), kernel 6.1.21-v8+ aarch64, arch armhf (userland armhf on aarch64 kernel), cgroup v2 (memory OFF), Raspberry Pi 4 Model B Rev 1.1, 1.8 GiB ram, swap 0.1 GiB, 10.5 GiB free in /var, systemd 247, not root',
    );
    expect(describeFacts(ws)).toContain('systemd not running');
    expect(describeFacts(ws)).toContain('container docker');
  });
});
