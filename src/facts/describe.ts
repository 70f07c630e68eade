/**
 * Small pure helpers over Facts: which interface carries an address, and a one-line summary
 * for logs and progress output.
 */
import { archFromUname } from './parse.js';
import type { Facts, NetInterface } from './types.js';

function ipv4ToInt(address: string): number | null {
  const parts = address.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function inSubnet(address: number, cidr: string): boolean {
  const [base, prefixText] = cidr.split('/');
  const baseInt = ipv4ToInt(base ?? '');
  const prefix = Number(prefixText);
  if (baseInt === null || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  if (prefix === 0) return true;
  const size = 2 ** (32 - prefix);
  return Math.floor(address / size) === Math.floor(baseInt / size);
}

/**
 * The interface that holds `address` (exact match), or else the one whose subnet contains it
 * (e.g. where a VIP of that subnet belongs). Loopback only matches exactly. Null when none.
 */
export function interfaceFor(facts: Pick<Facts, 'interfaces'>, address: string): NetInterface | null {
  const bare = address.split('/')[0] ?? address;
  const exact = facts.interfaces.find((i) => i.ipv4.some((a) => a.split('/')[0] === bare));
  if (exact) return exact;
  const addr = ipv4ToInt(bare);
  if (addr === null) return null;
  return (
    facts.interfaces.find((i) => i.name !== 'lo' && i.ipv4.some((cidr) => !cidr.startsWith('127.') && inSubnet(addr, cidr))) ??
    null
  );
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** One line for logs: "debian 12 (bookworm), kernel 6.1.0-18-amd64 x86_64, arch amd64, ..." */
export function describeFacts(facts: Facts): string {
  const parts: string[] = [];
  parts.push(`${facts.os.id} ${facts.os.versionId}${facts.os.codename ? ` (${facts.os.codename})` : ''}`.trim());
  parts.push(`kernel ${facts.kernel.release} ${facts.kernel.machine}`);
  const archNote =
    facts.archSource.dpkg && facts.arch !== 'unknown' && facts.arch !== archFromUname(facts.kernel.machine)
      ? ` (userland ${facts.archSource.dpkg} on ${facts.kernel.machine} kernel)`
      : '';
  parts.push(`arch ${facts.arch}${archNote}`);
  parts.push(`cgroup v${facts.cgroup.version} (memory ${facts.cgroup.memoryController ? 'on' : 'OFF'})`);
  if (facts.raspberryPi) parts.push(facts.raspberryPi.model);
  parts.push(`${gib(facts.memory.totalBytes)} ram`);
  if (facts.swap.totalBytes > 0) parts.push(`swap ${gib(facts.swap.totalBytes)}`);
  parts.push(`${gib(facts.diskFreeVarBytes)} free in /var`);
  parts.push(facts.systemd.running ? `systemd ${facts.systemd.version ?? '?'}` : 'systemd not running');
  if (facts.container) parts.push(`container ${facts.container}`);
  if (!facts.isRoot) parts.push('not root');
  return `${facts.hostname}: ${parts.join(', ')}`;
}

