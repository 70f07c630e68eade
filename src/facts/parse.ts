/**
 * Pure parsers for the output of the facts script (script.ts). One small function per probe,
 * plus `parseFacts` that assembles the immutable `Facts` record. No I/O here: everything is
 * tested on outputs captured from real systems (test/facts/fixtures/).
 */
import { KubiError } from '../errors.js';
import type { Arch } from '../inventory/schema.js';
import { SECTION_MARKER_PREFIX, SECTION_MARKER_SUFFIX } from './script.js';
import type { Facts, NetInterface, RaspberryPiFacts } from './types.js';

/** Split the script output into its sections (marker name -> raw text between markers). */
export function splitSections(output: string): Map<string, string> {
  const sections = new Map<string, string>();
  const marker = new RegExp(
    `(?:^|\\n)${escapeRegExp(SECTION_MARKER_PREFIX)}([a-z0-9-]+)${escapeRegExp(SECTION_MARKER_SUFFIX)}\\n`,
    'g',
  );
  const found: { name: string; start: number; end: number }[] = [];
  for (const m of output.matchAll(marker)) {
    found.push({ name: m[1] as string, start: m.index, end: m.index + m[0].length });
  }
  found.forEach((f, i) => {
    const next = found[i + 1];
    sections.set(f.name, output.slice(f.end, next ? next.start : output.length));
  });
  return sections;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lines(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}

/** /etc/os-release: KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Facts['os'] {
  const vars = new Map<string, string>();
  for (const line of lines(text)) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = (m[2] as string).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1).replace(/\\(["$`\\])/g, '$1');
    }
    vars.set(m[1] as string, value);
  }
  const id = vars.get('ID') ?? 'linux';
  return {
    id,
    versionId: vars.get('VERSION_ID') ?? '',
    prettyName: vars.get('PRETTY_NAME') ?? vars.get('NAME') ?? id,
    codename: vars.get('VERSION_CODENAME') || null,
    idLike: (vars.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
  };
}

/** `uname -r -m` prints "<release> <machine>". */
export function parseUname(text: string): Facts['kernel'] | null {
  const first = lines(text)[0]?.trim();
  if (!first) return null;
  const parts = first.split(/\s+/);
  if (parts.length < 2) return null;
  return { release: parts[0] as string, machine: parts[parts.length - 1] as string };
}

/** The kernel's machine name mapped to a userland arch (used when dpkg is absent). */
export function archFromUname(machine: string): Arch | 'unknown' {
  if (machine === 'x86_64' || machine === 'amd64') return 'amd64';
  if (machine === 'aarch64' || machine === 'arm64') return 'arm64';
  if (/^armv[67]/.test(machine) || machine === 'armhf') return 'armhf';
  return 'unknown';
}

/** dpkg's architecture names: only the three the tool supports are recognised. */
export function archFromDpkg(dpkg: string): Arch | 'unknown' {
  if (dpkg === 'amd64' || dpkg === 'arm64' || dpkg === 'armhf') return dpkg;
  return 'unknown';
}

/**
 * The userland architecture: dpkg wins over uname, because 32-bit Raspberry Pi OS boots a
 * 64-bit kernel (uname says aarch64) over an armhf userland.
 */
export function resolveArch(dpkg: string | null, unameMachine: string): Arch | 'unknown' {
  if (dpkg) return archFromDpkg(dpkg);
  return archFromUname(unameMachine);
}

/**
 * cgroup version and whether the memory controller is on, as k3s's install.sh decides it:
 * v2 (`cgroup2fs`): `memory` in cgroup.controllers; v1: the 4th column of the memory line in
 * /proc/cgroups is 1. A hybrid host (tmpfs with a v2 "unified" mount below it) counts as v1.
 */
export function parseCgroup(fsType: string, controllersText: string, procCgroupsText: string): Facts['cgroup'] {
  if (fsType.trim() === 'cgroup2fs') {
    const controllers = controllersText.trim().split(/\s+/).filter(Boolean);
    return { version: 2, memoryController: controllers.includes('memory'), controllers };
  }
  const controllers: string[] = [];
  let memory = false;
  for (const line of lines(procCgroupsText)) {
    if (line.startsWith('#')) continue;
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    const enabled = cols[3] === '1';
    if (enabled) controllers.push(cols[0] as string);
    if (cols[0] === 'memory') memory = enabled;
  }
  return { version: 1, memoryController: memory, controllers };
}

/** /proc/device-tree/model is NUL-terminated; null when absent or empty. */
export function parseDeviceTreeModel(text: string): string | null {
  const model = text.replace(/\0/g, '').trim();
  return model === '' ? null : model;
}

export function isRaspberryPiModel(model: string | null): boolean {
  return model !== null && /raspberry pi/i.test(model);
}

/** Raspberry Pi facts, or null when the device-tree model is not a Raspberry Pi. */
export function parseRaspberryPi(model: string | null, cmdlinePath: string, cmdline: string): RaspberryPiFacts | null {
  if (!isRaspberryPiModel(model)) return null;
  const path = cmdlinePath.trim() || null;
  const firstLine = path === null ? null : (cmdline.split('\n')[0] ?? '').trim();
  return { model: model as string, cmdlinePath: path, cmdline: firstLine };
}

/** /proc/meminfo values are in kB (KiB). */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number; swapTotalBytes: number } {
  const values = new Map<string, number>();
  for (const line of lines(text)) {
    const m = /^(\w+):\s+(\d+)\s*(kB)?/.exec(line.trim());
    if (m) values.set(m[1] as string, Number(m[2]) * (m[3] ? 1024 : 1));
  }
  return {
    totalBytes: values.get('MemTotal') ?? 0,
    availableBytes: values.get('MemAvailable') ?? values.get('MemFree') ?? 0,
    swapTotalBytes: values.get('SwapTotal') ?? 0,
  };
}

/** /proc/swaps: the header line, then one active swap device or file per line. */
export function parseSwaps(text: string): string[] {
  return lines(text)
    .filter((l) => !l.startsWith('Filename'))
    .map((l) => l.trim().split(/\s+/)[0] as string);
}

/** `df -PB1 /var`: the Available column (bytes) of the data line; null when unreadable. */
export function parseDfAvailable(text: string): number | null {
  for (const line of lines(text)) {
    const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.+)$/.exec(line.trim());
    if (m) return Number(m[4]);
  }
  return null;
}

/** `ip -o -4 addr show`: interface name -> IPv4 addresses with prefix, in order. */
export function parseIpAddr(text: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const line of lines(text)) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+\/\d+)/.exec(line.trim());
    if (!m) continue;
    const name = (m[1] as string).replace(/@.*$/, '');
    const list = byName.get(name) ?? [];
    list.push(m[2] as string);
    byName.set(name, list);
  }
  return byName;
}

/** `ip -o link`: interface names (without the `@peer` suffix) and whether the UP flag is set. */
export function parseIpLink(text: string): { name: string; up: boolean }[] {
  const out: { name: string; up: boolean }[] = [];
  for (const line of lines(text)) {
    const m = /^\d+:\s+([^:\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(line.trim());
    if (!m) continue;
    out.push({ name: (m[1] as string).replace(/@.*$/, ''), up: (m[2] as string).split(',').includes('UP') });
  }
  return out;
}

/** Interfaces from `ip -o link` (order kept) joined with their IPv4 addresses. */
export function buildInterfaces(linkText: string, addrText: string): NetInterface[] {
  const addrs = parseIpAddr(addrText);
  const result: NetInterface[] = parseIpLink(linkText).map((l) => ({
    name: l.name,
    ipv4: addrs.get(l.name) ?? [],
    up: l.up,
  }));
  // an address on an interface `ip link` did not list (should not happen): keep it anyway
  for (const [name, ipv4] of addrs) {
    if (!result.some((i) => i.name === name)) result.push({ name, ipv4, up: true });
  }
  return result;
}

/** First line of `systemctl --version`: "systemd 252 (252.38-1~deb12u1)". */
export function parseSystemdVersion(text: string): number | null {
  const m = /^systemd\s+(\d+)/.exec(lines(text)[0]?.trim() ?? '');
  return m ? Number(m[1]) : null;
}

/** `timedatectl show -p NTPSynchronized`: "NTPSynchronized=yes|no"; null when not available. */
export function parseNtpSynchronized(text: string): boolean | null {
  const m = /NTPSynchronized=(yes|no)/.exec(text);
  if (!m) return null;
  return m[1] === 'yes';
}

const PACKAGE_MANAGERS: Record<string, Facts['packageManager']> = {
  'apt-get': 'apt',
  dnf: 'dnf',
  yum: 'yum',
  zypper: 'zypper',
  apk: 'apk',
  pacman: 'pacman',
};

export function parsePackageManager(text: string): Facts['packageManager'] {
  return PACKAGE_MANAGERS[lines(text)[0]?.trim() ?? ''] ?? null;
}

/** `systemd-detect-virt --container`: "none" (not in a container) becomes null. */
export function parseContainer(text: string): string | null {
  const v = lines(text)[0]?.trim() ?? '';
  if (v === '' || v === 'none' || v === 'unknown') return null;
  return v;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Raised when the facts output cannot be understood (the script did not run as expected). */
export class FactsError extends KubiError {
  constructor(message: string, opts: { host?: string; cause?: unknown } = {}) {
    super('facts-unreadable', message, {
      hint: 'the host must run Linux with bash; run the facts script by hand to see what fails',
      ...opts,
    });
    this.name = 'FactsError';
  }
}

/** /etc/machine-id: 32 lower-case hex digits, else null (empty, "uninitialized", unreadable). */
export function parseMachineId(text: string): string | null {
  const id = lines(text)[0]?.trim() ?? '';
  return /^[0-9a-f]{32}$/.test(id) ? id : null;
}

/** Assemble the immutable Facts record from the whole script output. */
export function parseFacts(output: string, opts: { host?: string } = {}): Facts {
  const s = splitSections(output);
  const get = (name: string): string => s.get(name) ?? '';
  const hostOpt = opts.host === undefined ? {} : { host: opts.host };
  if (s.size === 0) throw new FactsError('could not read host facts: the facts script printed no sections', hostOpt);
  const kernel = parseUname(get('uname'));
  if (!kernel) throw new FactsError('could not read host facts: `uname -r -m` printed nothing', hostOpt);

  const dpkg = lines(get('dpkg-arch'))[0]?.trim() || null;
  const model = parseDeviceTreeModel(get('dt-model'));
  const mem = parseMeminfo(get('meminfo'));
  const uid = lines(get('uid'))[0]?.trim();
  const service = lines(get('time-sync-service'))[0]?.trim() || null;

  const machineId = parseMachineId(get('machine-id'));
  const facts: Facts = {
    hostname: lines(get('hostname'))[0]?.trim() ?? '',
    ...(machineId ? { machineId } : {}),
    os: parseOsRelease(get('os-release')),
    kernel,
    arch: resolveArch(dpkg, kernel.machine),
    archSource: { dpkg, uname: kernel.machine },
    cgroup: parseCgroup(get('cgroup-fs'), get('cgroup-controllers'), get('proc-cgroups')),
    raspberryPi: parseRaspberryPi(model, get('cmdline-path'), get('cmdline')),
    memory: { totalBytes: mem.totalBytes, availableBytes: mem.availableBytes },
    swap: { totalBytes: mem.swapTotalBytes, devices: parseSwaps(get('swaps')) },
    diskFreeVarBytes: parseDfAvailable(get('df-var')) ?? 0,
    interfaces: buildInterfaces(get('ip-link'), get('ip-addr')),
    systemd: {
      version: parseSystemdVersion(get('systemd-version')),
      running: lines(get('systemd-running'))[0]?.trim() === 'yes',
    },
    timeSync: { synchronized: parseNtpSynchronized(get('ntp-synchronized')), service },
    packageManager: parsePackageManager(get('package-manager')),
    container: parseContainer(get('container')),
    isRoot: uid === '0',
  };
  return deepFreeze(facts);
}
