/**
 * The pure rules behind `host.preflight`: given a host's facts, the facts of every other host and
 * what the check observed (listening sockets, TCP probes to the other hosts), list every problem
 * that must stop the run before anything is changed. Each problem has a one-line message and a
 * hint. No I/O here; tested on captured outputs.
 */
import type { Facts } from '../../facts/types.js';
import type { Host, Inventory, Role } from '../../inventory/schema.js';
import { formatBytes, lines } from './script.js';

export const MIN_MEMORY_BYTES = 512 * 1024 ** 2;
export const MIN_VAR_FREE_BYTES = 2 * 1024 ** 3;

/** Operating systems the steps are written for (os-release ID). */
export const SUPPORTED_OS_IDS = ['debian', 'ubuntu', 'raspbian'] as const;

/** The ports a role needs, and which process names count as "ours" on them. */
export const ROLE_PORTS: Record<Role, { port: number; service: string; ours: RegExp }[]> = {
  etcd: [
    { port: 2379, service: 'etcd client', ours: /^etcd$/ },
    { port: 2380, service: 'etcd peer', ours: /^etcd$/ },
  ],
  server: [
    { port: 6443, service: 'kubernetes api', ours: /^k3s(-server)?$/ },
    { port: 10250, service: 'kubelet', ours: /^k3s(-server|-agent)?$/ },
  ],
  agent: [{ port: 10250, service: 'kubelet', ours: /^k3s(-server|-agent)?$/ }],
};

export interface Listener {
  /** local address as ss prints it: 0.0.0.0, 127.0.0.1, [::], * */
  address: string;
  port: number;
  /** process names from ss -p (empty when ss could not tell) */
  processes: { name: string; pid: number }[];
}

/** Parse `ss -Hltnp` (no header; a header line, if any, is skipped). */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of lines(text)) {
    if (line.startsWith('State')) continue;
    const cols = line.split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port [Process]
    const local = cols[3];
    if (!local) continue;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const port = Number(local.slice(colon + 1));
    if (!Number.isInteger(port)) continue;
    let address = local.slice(0, colon);
    // ss prints an interface scope as addr%iface
    address = address.replace(/%.*$/, '');
    const processes = [...line.matchAll(/\("([^"]*)",pid=(\d+)/g)].map((m) => ({ name: m[1] as string, pid: Number(m[2]) }));
    out.push({ address, port, processes });
  }
  return out;
}

/** `skipped`: not probed because another port of the same address already answered */
export type ProbeResult = 'open' | 'refused' | 'timeout' | 'unreachable' | 'skipped';

export interface Probe {
  /** inventory name of the peer */
  peer: string;
  address: string;
  port: number;
  result: ProbeResult;
  /** the error text when not open */
  detail: string;
}

/** Parse the probe lines the check script prints: `<peer> <address> <port> <result> [detail...]`. */
export function parseProbes(text: string): Probe[] {
  const out: Probe[] = [];
  for (const line of lines(text)) {
    const [peer, address, port, result, ...rest] = line.split(' ');
    if (!peer || !address || !port || !result) continue;
    if (!['open', 'refused', 'timeout', 'unreachable', 'skipped'].includes(result)) continue;
    out.push({ peer, address, port: Number(port), result: result as ProbeResult, detail: rest.join(' ') });
  }
  return out;
}

/** What the host should be able to reach: etcd peers on 2380, every other host on its SSH port (probed only when nothing else of that peer answered). */
export function probeTargets(host: Host, inventory: Inventory): { peer: string; address: string; port: number }[] {
  const out: { peer: string; address: string; port: number }[] = [];
  const isEtcd = host.roles.includes('etcd');
  for (const other of inventory.hosts) {
    if (other.name === host.name) continue;
    if (isEtcd && other.roles.includes('etcd')) out.push({ peer: other.name, address: other.address, port: 2380 });
    out.push({ peer: other.name, address: other.address, port: other.ssh?.port ?? inventory.ssh.port ?? 22 });
  }
  return out;
}

export interface PreflightObserved {
  listeners: Listener[];
  probes: Probe[];
  /** /etc/machine-id, '' when unreadable */
  machineId: string;
}

export interface PreflightInput {
  host: Host;
  inventory: Inventory;
  facts: Facts;
  /** facts of every connected host (including this one), by inventory name */
  allFacts: ReadonlyMap<string, Facts>;
  /** machine ids of the other hosts when known (from their facts), by inventory name */
  machineIds?: ReadonlyMap<string, string>;
  observed: PreflightObserved;
}

export interface Problem {
  code: string;
  message: string;
  hint: string;
}

/** Every reason to refuse this host, in a stable order. [] = the host may be provisioned. */
export function preflightProblems(input: PreflightInput): Problem[] {
  const { host, facts, observed } = input;
  const problems: Problem[] = [];

  // Operating system
  const osId = facts.os.id.toLowerCase();
  if (!(SUPPORTED_OS_IDS as readonly string[]).includes(osId)) {
    problems.push({
      code: 'os-unsupported',
      message: `unsupported operating system ${facts.os.prettyName || osId || 'unknown'}`,
      hint: 'kubi-provision supports Debian (11, 12), Ubuntu (22.04, 24.04) and Raspberry Pi OS; reinstall the host with one of them',
    });
  }
  if (!facts.systemd.running) {
    problems.push({
      code: 'systemd-missing',
      message: 'systemd is not running as the init system',
      hint: 'etcd, containerd and k3s run as systemd services: boot the host with systemd',
    });
  }
  if (facts.packageManager !== 'apt' && (SUPPORTED_OS_IDS as readonly string[]).includes(osId)) {
    problems.push({
      code: 'apt-missing',
      message: 'apt-get was not found',
      hint: 'the host packages are installed with apt-get; repair the host\'s apt installation',
    });
  }

  // Architecture
  if (facts.arch === 'unknown') {
    problems.push({
      code: 'arch-unknown',
      message: `unsupported architecture ${facts.archSource.dpkg ?? facts.archSource.uname}`,
      hint: 'supported are amd64, arm64 and (for agents with a distribution containerd only) armhf',
    });
  } else {
    if (host.arch && host.arch !== facts.arch) {
      problems.push({
        code: 'arch-mismatch',
        message: `the inventory says ${host.arch} but the host runs a ${facts.arch} userland`,
        hint: `fix hosts[].arch of ${host.name} in the inventory (or remove it: the tool detects the architecture)`,
      });
    }
    if (facts.arch === 'armhf') {
      const components: string[] = [];
      if (host.roles.includes('etcd')) components.push('etcd');
      if (host.roles.includes('server') || host.roles.includes('agent')) components.push('containerd');
      if (components.length > 0) {
        problems.push({
          code: 'arch-armhf',
          message: `${components.join(' and ')} publish no 32-bit ARM (armhf) builds`,
          hint: 'install a 64-bit OS (Raspberry Pi OS 64-bit / arm64) on this host; a Pi 3, 4 or 5 runs it',
        });
      }
    }
  }

  // Resources
  if (facts.memory.totalBytes < MIN_MEMORY_BYTES) {
    problems.push({
      code: 'memory-low',
      message: `only ${formatBytes(facts.memory.totalBytes)} of memory (needs at least ${formatBytes(MIN_MEMORY_BYTES)})`,
      hint: 'use a host with more memory',
    });
  }
  if (facts.diskFreeVarBytes < MIN_VAR_FREE_BYTES) {
    problems.push({
      code: 'disk-low',
      message: `only ${formatBytes(facts.diskFreeVarBytes)} free under /var (needs at least ${formatBytes(MIN_VAR_FREE_BYTES)})`,
      hint: 'free space under /var (etcd, containerd and k3s keep their data there) or give the host a larger disk',
    });
  }

  // Ports taken by something that is not ours
  const wanted = new Map<number, { service: string; ours: RegExp }>();
  for (const role of host.roles) for (const p of ROLE_PORTS[role]) wanted.set(p.port, p);
  for (const [port, want] of [...wanted].sort((a, b) => a[0] - b[0])) {
    const taken = observed.listeners.filter((l) => l.port === port);
    const foreign = taken.filter((l) => l.processes.length === 0 || l.processes.some((p) => !want.ours.test(p.name)));
    if (foreign.length === 0) continue;
    const who = [...new Set(foreign.flatMap((l) => (l.processes.length ? l.processes.map((p) => `${p.name} (pid ${p.pid})`) : ['an unknown process'])))];
    problems.push({
      code: 'port-taken',
      message: `port ${port} (${want.service}) is already taken by ${who.join(', ')}`,
      hint: `stop or reconfigure what listens on port ${port} on ${host.name} (see: ss -ltnp 'sport = :${port}')`,
    });
  }

  // Host name and machine-id collisions with other hosts
  for (const [name, other] of input.allFacts) {
    if (name === host.name) continue;
    if (other.hostname && other.hostname === facts.hostname) {
      problems.push({
        code: 'hostname-duplicate',
        message: `${name} reports the same host name ${facts.hostname}`,
        hint: 'give every host its own name (hostnamectl set-hostname <name>)',
      });
    }
  }
  if (observed.machineId && input.machineIds) {
    for (const [name, id] of input.machineIds) {
      if (name !== host.name && id === observed.machineId) {
        problems.push({
          code: 'machine-id-duplicate',
          message: `${name} has the same machine-id ${observed.machineId.slice(0, 8)}… (a cloned image)`,
          hint: 'regenerate it on the clone: rm /etc/machine-id && systemd-machine-id-setup, then reboot',
        });
      }
    }
  }

  // Reachability of the other hosts. An answered connect ("refused": an RST came back) proves the
  // path; before etcd runs on a peer its port 2380 answers that way, so it is not a problem. Only a
  // timeout or "no route" is: a firewall that drops, a wrong address, a down host.
  for (const p of observed.probes) {
    if (p.result === 'open' || p.result === 'refused' || p.result === 'skipped') continue;
    problems.push({
      code: 'peer-unreachable',
      message: `cannot reach ${p.peer} (${p.address}:${p.port}): ${p.result}${p.detail ? ` (${p.detail})` : ''}`,
      hint: `check the network and firewalls between ${host.name} and ${p.peer}; ${p.port === 2380 ? 'etcd members talk to each other on TCP 2380' : 'hosts must reach each other'}`,
    });
  }
  return problems;
}
