/**
 * Cross-field and cross-host rules of the inventory, pure. Each rule has its own message and hint.
 *
 * The rules read a `RuleInput`: the inventory with every field optional. load.ts fills it with
 * only the fields that passed the schema on their own (see salvage.ts), so the rules run even when
 * other parts of the file are broken and every problem is reported at once. A fully parsed
 * `Inventory` is a `RuleInput` too: `checkRules(inventory)` works on it directly.
 */
import {
  cidrContains,
  cidrsOverlap,
  enclosing,
  formatCidr,
  formatIPv4,
  hostBitsSet,
  networkOf,
  parseCidr,
  parseIPv4,
  sizeOf,
  unusableHostAddress,
  type Cidr,
} from './ipv4.js';
import { quote } from './errors.js';
import type { Role } from './schema.js';
import type { PathSegment } from './source.js';

export interface RuleHost {
  name?: string | undefined;
  address?: string | undefined;
  roles?: readonly Role[] | undefined;
  labels?: Readonly<Record<string, string>> | undefined;
  ssh?: { jumpHost?: string | undefined } | undefined;
}

export interface RuleInput {
  network?: {
    podCidr?: string | undefined;
    serviceCidr?: string | undefined;
    clusterDns?: string | undefined;
    nodeCidrMaskSize?: number | undefined;
  };
  endpoint?: {
    mode?: 'keepalived' | 'kube-vip' | 'none' | undefined;
    vip?: string | undefined;
    subnet?: string | undefined;
  };
  ssh?: { jumpHost?: string | undefined };
  artifacts?: { source?: 'upstream' | 'offline' | undefined; dir?: string | undefined; mirrorUrl?: string | undefined };
  etcd?: {
    heartbeatIntervalMs?: number | undefined;
    electionTimeoutMs?: number | undefined;
    allowEvenMembers?: boolean | undefined;
    dataDir?: string | undefined;
  };
  /** undefined when the list itself is broken; an entry is undefined when it is not a mapping */
  hosts?: ReadonlyArray<RuleHost | undefined> | undefined;
}

export interface RuleIssue {
  path: PathSegment[];
  /** point at the key (e.g. a label key) rather than the value */
  at?: 'key' | 'value';
  message: string;
  hint: string;
}

type Rule = (input: RuleInput, out: RuleIssue[]) => void;

/** Label namespaces a kubelet may set on itself; any other kubernetes.io / k8s.io label is refused. */
const KUBELET_ALLOWED_LABELS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/instance-type',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'node.kubernetes.io/instance-type',
]);
const KUBELET_ALLOWED_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

function isReservedLabel(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const prefix = key.slice(0, slash);
  const reserved = ['kubernetes.io', 'k8s.io'].some((ns) => prefix === ns || prefix.endsWith(`.${ns}`));
  if (!reserved) return false;
  if (KUBELET_ALLOWED_LABELS.has(key)) return false;
  return !KUBELET_ALLOWED_NAMESPACES.some((ns) => prefix === ns || prefix.endsWith(`.${ns}`));
}

function hostList(input: RuleInput): Array<{ host: RuleHost; index: number }> {
  const out: Array<{ host: RuleHost; index: number }> = [];
  (input.hosts ?? []).forEach((host, index) => {
    if (host) out.push({ host, index });
  });
  return out;
}

/** True when every host's roles are known (counting rules would lie otherwise). */
function rolesKnown(input: RuleInput): boolean {
  return input.hosts !== undefined && input.hosts.length > 0 && input.hosts.every((h) => h?.roles !== undefined);
}

const uniqueNamesAndAddresses: Rule = (input, out) => {
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  for (const { host, index } of hostList(input)) {
    if (host.name !== undefined) {
      const first = names.get(host.name);
      if (first !== undefined) {
        out.push({
          path: ['hosts', index, 'name'],
          message: `duplicate host name ${quote(host.name)} (also hosts[${first}])`,
          hint: 'every host needs its own name: it is the node name and the etcd member name',
        });
      } else names.set(host.name, index);
    }
    if (host.address !== undefined) {
      const first = addresses.get(host.address);
      if (first !== undefined) {
        out.push({
          path: ['hosts', index, 'address'],
          message: `duplicate address ${host.address} (also hosts[${first}])`,
          hint: 'every host needs its own address; list a machine once and give it several roles instead',
        });
      } else addresses.set(host.address, index);
    }
  }
};

const usableAddresses: Rule = (input, out) => {
  for (const { host, index } of hostList(input)) {
    const ip = host.address === undefined ? null : parseIPv4(host.address);
    if (ip === null) continue;
    const reason = unusableHostAddress(ip);
    if (reason) {
      out.push({
        path: ['hosts', index, 'address'],
        message: `address ${host.address} is ${reason}, not a host address`,
        hint: 'write the address the host has on the network the cluster uses (see `ip -4 addr` on the host)',
      });
    }
  }
};

const sensibleRoles: Rule = (input, out) => {
  for (const { host, index } of hostList(input)) {
    const roles = host.roles;
    if (!roles) continue;
    const seen = new Set<string>();
    roles.forEach((role, k) => {
      if (seen.has(role)) {
        out.push({
          path: ['hosts', index, 'roles', k],
          message: `role ${quote(role)} is listed twice`,
          hint: 'list each role once',
        });
      }
      seen.add(role);
    });
    if (seen.has('agent') && seen.has('server')) {
      out.push({
        path: ['hosts', index, 'roles'],
        message: 'a host cannot be both server and agent',
        hint: 'a server already runs workloads (it is an agent too); keep server and drop agent',
      });
    }
  }
};

const enoughServersAndEtcd: Rule = (input, out) => {
  if (!rolesKnown(input)) return;
  const hosts = hostList(input);
  const count = (role: Role) => hosts.filter(({ host }) => host.roles?.includes(role)).length;
  if (count('server') === 0) {
    out.push({
      path: ['hosts'],
      message: 'no host has the server role',
      hint: 'give at least one host the server role (three etcd+server hosts make the API highly available)',
    });
  }
  const etcd = count('etcd');
  if (etcd === 0) {
    out.push({
      path: ['hosts'],
      message: 'no host has the etcd role',
      hint: 'the datastore is an external etcd cluster: give one or three hosts the etcd role (usually the servers)',
    });
  } else if (etcd % 2 === 0 && input.etcd?.allowEvenMembers !== true) {
    out.push({
      path: ['hosts'],
      message: `${etcd} etcd members is an even number`,
      hint:
        `etcd needs a majority (quorum): 3 members tolerate 1 failure and 4 still tolerate only 1, so an even member ` +
        `adds risk without resilience; use ${etcd - 1} or ${etcd + 1}, or set etcd.allowEvenMembers: true (e.g. while replacing a member)`,
    });
  }
};

const labelNamespaces: Rule = (input, out) => {
  for (const { host, index } of hostList(input)) {
    for (const key of Object.keys(host.labels ?? {})) {
      const slash = key.indexOf('/');
      if (slash > 253) {
        out.push({
          path: ['hosts', index, 'labels', key],
          at: 'key',
          message: `label key prefix is longer than 253 characters`,
          hint: 'the prefix of a label key is a DNS subdomain of at most 253 characters',
        });
      } else if (isReservedLabel(key)) {
        out.push({
          path: ['hosts', index, 'labels', key],
          at: 'key',
          message: `label ${quote(key)} is in a namespace reserved for Kubernetes (kubernetes.io / k8s.io)`,
          hint:
            'the kubelet refuses to set such labels and k3s then fails to start; use your own prefix (e.g. example.com/role); ' +
            'k3s sets node-role.kubernetes.io/* itself',
        });
      }
    }
  }
};

interface Networks {
  pod: Cidr | null;
  service: Cidr | null;
}

function networks(input: RuleInput): Networks {
  const pod = input.network?.podCidr ? parseCidr(input.network.podCidr) : null;
  const service = input.network?.serviceCidr ? parseCidr(input.network.serviceCidr) : null;
  return { pod, service };
}

const cidrs: Rule = (input, out) => {
  const { pod, service } = networks(input);
  for (const [key, cidr] of [
    ['podCidr', pod],
    ['serviceCidr', service],
  ] as const) {
    if (cidr && hostBitsSet(cidr)) {
      out.push({
        path: ['network', key],
        message: `${input.network?.[key]} has host bits set`,
        hint: `write the network address: ${formatCidr(cidr)}`,
      });
    }
  }
  if (service && service.prefix < 12) {
    out.push({
      path: ['network', 'serviceCidr'],
      message: `service CIDR ${formatCidr(service)} is too large`,
      hint: 'the API server accepts at most a /12 service network; 10.43.0.0/16 is the usual size',
    });
  }
  if (pod && service && cidrsOverlap(pod, service)) {
    out.push({
      path: ['network', 'serviceCidr'],
      message: `service CIDR ${formatCidr(service)} overlaps the pod CIDR ${formatCidr(pod)}`,
      hint: 'pods and services need separate address ranges, e.g. pods 10.42.0.0/16 and services 10.43.0.0/16',
    });
  }
  for (const { host, index } of hostList(input)) {
    const ip = host.address === undefined ? null : parseIPv4(host.address);
    if (ip === null) continue;
    for (const [what, cidr, key] of [
      ['pod', pod, 'podCidr'],
      ['service', service, 'serviceCidr'],
    ] as const) {
      if (cidr && cidrContains(cidr, ip)) {
        out.push({
          path: ['hosts', index, 'address'],
          message: `address ${host.address} is inside the ${what} CIDR ${formatCidr(cidr)}`,
          hint: `pick a network.${key} that does not contain the host network (e.g. ${what === 'pod' ? '10.42.0.0/16' : '10.43.0.0/16'}, or 172.16.0.0/16 if your LAN uses 10.x)`,
        });
      }
    }
  }
  const mask = input.network?.nodeCidrMaskSize;
  if (pod && mask !== undefined) {
    const nodes = hostList(input).filter(({ host }) => host.roles?.includes('server') || host.roles?.includes('agent')).length;
    if (mask < pod.prefix) {
      out.push({
        path: ['network', 'nodeCidrMaskSize'],
        message: `node subnets (/${mask}) are larger than the pod CIDR ${formatCidr(pod)}`,
        hint: `nodeCidrMaskSize must be at least the pod CIDR's prefix length (${pod.prefix}); 24 is the usual value`,
      });
    } else if (2 ** (mask - pod.prefix) < nodes) {
      out.push({
        path: ['network', 'nodeCidrMaskSize'],
        message: `the pod CIDR ${formatCidr(pod)} holds only ${2 ** (mask - pod.prefix)} node subnets of /${mask} for ${nodes} nodes`,
        hint: 'use a larger pod CIDR or a larger nodeCidrMaskSize',
      });
    }
  }
};

const clusterDns: Rule = (input, out) => {
  const { service } = networks(input);
  const dns = input.network?.clusterDns;
  if (service && dns === undefined && sizeOf(service) <= 11) {
    out.push({
      path: ['network', 'serviceCidr'],
      message: `service CIDR ${formatCidr(service)} is too small to hold the default cluster DNS address (its 10th address)`,
      hint: 'use a larger service network (10.43.0.0/16 is the usual size) or set network.clusterDns',
    });
  }
  const ip = dns === undefined ? null : parseIPv4(dns);
  if (!service || ip === null) return;
  if (!cidrContains(service, ip)) {
    out.push({
      path: ['network', 'clusterDns'],
      message: `cluster DNS ${dns} is outside the service CIDR ${formatCidr(service)}`,
      hint: `the DNS service address must come from the service network; leave it out to use ${formatIPv4(networkOf(service) + 10)}`,
    });
  } else if (ip === networkOf(service) || ip === networkOf(service) + 1 || ip === networkOf(service) + sizeOf(service) - 1) {
    out.push({
      path: ['network', 'clusterDns'],
      message: `cluster DNS ${dns} is a reserved address of the service CIDR ${formatCidr(service)}`,
      hint: `the network address, the first address (the kubernetes service) and the last address cannot be used; the usual choice is ${formatIPv4(networkOf(service) + 10)}`,
    });
  }
};

const virtualIp: Rule = (input, out) => {
  const mode = input.endpoint?.mode;
  const vip = input.endpoint?.vip;
  if (mode === undefined) return;
  if (mode === 'none') {
    if (vip !== undefined) {
      out.push({
        path: ['endpoint', 'vip'],
        message: 'a vip is set but endpoint mode is none',
        hint: 'set endpoint.mode to keepalived (or kube-vip) to use the VIP, or remove endpoint.vip',
      });
    }
    return;
  }
  if (vip === undefined) {
    // the key may exist with a bad value: the schema reported that already
    out.push({
      path: ['endpoint', 'vip'],
      message: `endpoint.vip is required when endpoint mode is ${mode}`,
      hint: 'pick a free address in the servers\' subnet (outside any DHCP range), or set endpoint.mode: none for a single server',
    });
    return;
  }
  const ip = parseIPv4(vip);
  if (ip === null) return;
  const reason = unusableHostAddress(ip);
  if (reason) {
    out.push({ path: ['endpoint', 'vip'], message: `vip ${vip} is ${reason}`, hint: 'pick a free unicast address in the servers\' subnet' });
    return;
  }
  const owner = hostList(input).find(({ host }) => host.address === vip);
  if (owner) {
    out.push({
      path: ['endpoint', 'vip'],
      message: `vip ${vip} is the address of host ${owner.host.name ? quote(owner.host.name) : `hosts[${owner.index}]`}`,
      hint: 'the VIP moves between servers, so it must be a free address that no host owns',
    });
  }
  const { pod, service } = networks(input);
  for (const [what, cidr] of [
    ['pod', pod],
    ['service', service],
  ] as const) {
    if (cidr && cidrContains(cidr, ip)) {
      out.push({
        path: ['endpoint', 'vip'],
        message: `vip ${vip} is inside the ${what} CIDR ${formatCidr(cidr)}`,
        hint: 'the VIP belongs to the hosts\' LAN, not to the cluster\'s internal networks',
      });
    }
  }
  const servers = hostList(input).filter(({ host }) => host.roles?.includes('server'));
  const subnetText = input.endpoint?.subnet;
  const subnet = subnetText ? parseCidr(subnetText) : null;
  if (subnet) {
    if (hostBitsSet(subnet)) {
      out.push({ path: ['endpoint', 'subnet'], message: `${subnetText} has host bits set`, hint: `write the network address: ${formatCidr(subnet)}` });
    }
    if (!cidrContains(subnet, ip)) {
      out.push({
        path: ['endpoint', 'vip'],
        message: `vip ${vip} is outside endpoint.subnet ${formatCidr(subnet)}`,
        hint: 'keepalived can only move the VIP within the servers\' layer-2 subnet',
      });
    }
    for (const { host, index } of servers) {
      const hip = host.address === undefined ? null : parseIPv4(host.address);
      if (hip !== null && !cidrContains(subnet, hip)) {
        out.push({
          path: ['hosts', index, 'address'],
          message: `server address ${host.address} is outside endpoint.subnet ${formatCidr(subnet)}`,
          hint: 'every server must be on the VIP\'s subnet to take it over; fix the address or endpoint.subnet',
        });
      }
    }
    return;
  }
  // No subnet given: when all servers share one /24, a VIP outside it cannot be on their LAN
  // unless the LAN is larger, which endpoint.subnet then says.
  const addrs = servers.map(({ host }) => (host.address === undefined ? null : parseIPv4(host.address)));
  if (addrs.length === 0 || addrs.some((a) => a === null)) return;
  const shared = enclosing(addrs[0]!, 24);
  if (addrs.every((a) => cidrContains(shared, a!)) && !cidrContains(shared, ip)) {
    out.push({
      path: ['endpoint', 'vip'],
      message: `vip ${vip} is not in the servers' subnet ${formatCidr(shared)}`,
      hint: `pick a free address in ${formatCidr(shared)}; if the LAN is really larger, say so with endpoint.subnet (e.g. ${formatCidr(enclosing(addrs[0]!, 16))})`,
    });
  }
};

const artifactSource: Rule = (input, out) => {
  const a = input.artifacts;
  if (!a?.source) return;
  if (a.source === 'offline' && a.dir === undefined) {
    out.push({
      path: ['artifacts', 'dir'],
      message: 'artifacts.dir is required when artifacts.source is offline',
      hint: 'point artifacts.dir at the directory that holds the downloaded binaries and their checksum files',
    });
  }
  if (a.source === 'upstream' && a.dir !== undefined) {
    out.push({
      path: ['artifacts', 'dir'],
      message: 'artifacts.dir is set but artifacts.source is upstream',
      hint: 'set artifacts.source: offline to use the directory, or remove artifacts.dir',
    });
  }
  if (a.source === 'offline' && a.mirrorUrl !== undefined) {
    out.push({
      path: ['artifacts', 'mirrorUrl'],
      message: 'artifacts.mirrorUrl cannot be used with artifacts.source offline',
      hint: 'an offline directory needs no downloads; remove mirrorUrl, or use source: upstream with the mirror',
    });
  }
  if (a.mirrorUrl !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(a.mirrorUrl);
    } catch {
      url = null;
    }
    if (!url || !url.hostname) {
      out.push({ path: ['artifacts', 'mirrorUrl'], message: `${quote(a.mirrorUrl)} is not a valid URL`, hint: 'e.g. http://mirror.lan:8080/kubi' });
    } else if (url.username || url.password) {
      out.push({
        path: ['artifacts', 'mirrorUrl'],
        message: 'mirrorUrl must not contain a user name or password',
        hint: 'credentials do not belong in the inventory; serve the mirror on a trusted network or without authentication',
      });
    }
  }
};

const etcdSettings: Rule = (input, out) => {
  const e = input.etcd;
  if (e?.heartbeatIntervalMs !== undefined && e.electionTimeoutMs !== undefined && e.electionTimeoutMs < 5 * e.heartbeatIntervalMs) {
    out.push({
      path: ['etcd', 'electionTimeoutMs'],
      message: `election timeout ${e.electionTimeoutMs} ms is less than 5 times the heartbeat interval (${e.heartbeatIntervalMs} ms)`,
      hint: `etcd refuses to start with that; use at least ${5 * e.heartbeatIntervalMs} (10 times the heartbeat is the usual choice)`,
    });
  }
  if (e?.dataDir !== undefined && (e.dataDir.replace(/\/+$/, '') === '' || e.dataDir.split('/').includes('..'))) {
    out.push({
      path: ['etcd', 'dataDir'],
      message: `etcd data directory ${quote(e.dataDir)} is not a usable directory`,
      hint: 'use a dedicated absolute directory without "..", e.g. /var/lib/etcd',
    });
  } else if (e?.dataDir !== undefined && systemDirectory(e.dataDir)) {
    // the etcd steps make the data directory root-owned 0700: on /usr or /etc that breaks the host
    out.push({
      path: ['etcd', 'dataDir'],
      message: `etcd data directory ${quote(e.dataDir)} is a system directory`,
      hint: 'etcd gets a directory of its own (made root-only, 0700), e.g. /var/lib/etcd or /data/etcd',
    });
  }
};

/** Directories the system or the tool itself owns: never an etcd data directory (reliability issue 10). */
const SYSTEM_DIRS = new Set([
  '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt', '/proc', '/root',
  '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/usr/local', '/var/lib', '/var/log', '/var/cache', '/var/tmp',
  '/var/run', '/var/spool', '/var/mail', '/var/backups', '/etc/etcd', '/var/lib/kubi-provision', '/var/lib/rancher', '/opt/cni',
]);
/** Trees whose contents are volatile or not data at all. */
const SYSTEM_TREES = ['/proc/', '/sys/', '/dev/', '/run/', '/boot/', '/tmp/', '/usr/', '/etc/etcd/pki/', '/var/lib/kubi-provision/'];

function systemDirectory(dir: string): boolean {
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  const normal = `/${parts.join('/')}`;
  return SYSTEM_DIRS.has(normal) || SYSTEM_TREES.some((t) => `${normal}/`.startsWith(t));
}

const jumpHostPorts: Rule = (input, out) => {
  const check = (jump: string | undefined, path: PathSegment[]) => {
    const m = jump === undefined ? null : /:([0-9]+)$/.exec(jump);
    if (m && (Number(m[1]) < 1 || Number(m[1]) > 65535)) {
      out.push({ path, message: `jump host port ${m[1]} is out of range`, hint: 'a port is 1-65535' });
    }
  };
  check(input.ssh?.jumpHost, ['ssh', 'jumpHost']);
  for (const { host, index } of hostList(input)) check(host.ssh?.jumpHost, ['hosts', index, 'ssh', 'jumpHost']);
};

const RULES: readonly Rule[] = [
  uniqueNamesAndAddresses,
  usableAddresses,
  sensibleRoles,
  enoughServersAndEtcd,
  labelNamespaces,
  cidrs,
  clusterDns,
  virtualIp,
  artifactSource,
  etcdSettings,
  jumpHostPorts,
];

/** Every rule problem, in rule order. Empty when the inventory is consistent. */
export function checkRules(input: RuleInput): RuleIssue[] {
  const out: RuleIssue[] = [];
  for (const rule of RULES) rule(input, out);
  return out;
}
