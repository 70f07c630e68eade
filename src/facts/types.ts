/**
 * Host facts: an immutable record gathered in one read-only round trip per host
 * (src/facts/gather.ts) and parsed by pure functions (src/facts/parse.ts).
 */
import type { Arch } from '../inventory/schema.js';

export interface NetInterface {
  name: string;
  /** IPv4 addresses with prefix length, e.g. "10.77.0.11/24" */
  ipv4: string[];
  up: boolean;
}

export interface RaspberryPiFacts {
  /** e.g. "Raspberry Pi 4 Model B Rev 1.4" from /proc/device-tree/model */
  model: string;
  /** where cmdline.txt lives: /boot/firmware/cmdline.txt (Bookworm) or /boot/cmdline.txt (older) */
  cmdlinePath: string | null;
  /** current content of that file, trimmed (a single line) */
  cmdline: string | null;
}

export interface Facts {
  hostname: string;
  /** /etc/machine-id (32 hex digits); absent when unreadable or malformed. Clones share it. */
  machineId?: string;
  os: { id: string; versionId: string; prettyName: string; codename: string | null; idLike: string[] };
  kernel: { release: string; machine: string };
  /** userland architecture (dpkg --print-architecture wins over uname -m: 32-bit userland on a 64-bit kernel is armhf) */
  arch: Arch | 'unknown';
  /** raw values behind `arch` */
  archSource: { dpkg: string | null; uname: string };
  cgroup: { version: 1 | 2; memoryController: boolean; controllers: string[] };
  raspberryPi: RaspberryPiFacts | null;
  memory: { totalBytes: number; availableBytes: number };
  swap: { totalBytes: number; devices: string[] };
  /** free bytes under /var */
  diskFreeVarBytes: number;
  interfaces: NetInterface[];
  /** the interface that holds a given address is found with interfaceFor() */
  systemd: { version: number | null; running: boolean };
  /** synchronized: true when systemd-timesyncd reports a sync, null when unknown (not asked: see script.ts) */
  timeSync: { synchronized: boolean | null; service: string | null };
  packageManager: 'apt' | 'dnf' | 'yum' | 'zypper' | 'apk' | 'pacman' | null;
  /** true inside a container (systemd-detect-virt --container) */
  container: string | null;
  /** login user is root */
  isRoot: boolean;
}
