/**
 * The `reset` playbook's steps (playbooks/reset.yaml): uninstall what kubi-provision installed,
 * as ordinary steps with a read-only check and a pure plan, so `plan --playbook reset` lists
 * exactly what would go and a second reset plans nothing.
 *
 *  - reset.services: stop and disable k3s, k3s-agent, keepalived, kubi-pod-routes, containerd and
 *    etcd (in that order), kill leftover container shims, unmount what containers left mounted;
 *  - reset.network: pod routes (proto 77), the VIP, cni0 and its veths, flannel/kube-ipvs
 *    interfaces, cni-* network namespaces, KUBE-/CNI-/flannel iptables rules;
 *  - reset.files: units, configuration, data (etcd, k3s, kubelet, containerd, CNI), moved-aside
 *    etcd data directories, fingerprints and the binaries the tool installed.
 *
 * Left in place on purpose: distribution packages (conntrack, socat, ipset, iptables,
 * keepalived, curl), swap staying off, kernel settings already applied to the running kernel.
 * After a reset, `up` works on the host again.
 */
import type { Change, Step } from '../../engine/types.js';
import type { Inventory } from '../../inventory/schema.js';
import { POD_ROUTE_PROTO } from '../../network/routes.js';
import { CNI_PATHS, BRIDGE_NAME } from '../../render/cni.js';
import { ENDPOINT_PATHS } from '../../render/endpoint.js';
import { quoteWord } from '../../transport/quote.js';
import { SECTION_FN, lines, sections } from '../host/script.js';
import { observe, observeFiles, type Observation } from '../lib/index.js';
import { JOIN_DROPIN_PATH, JOIN_ENV_PATH } from './etcd-join.js';

/** In stop order: what uses etcd and containerd first. */
export const RESET_UNITS = ['k3s.service', 'k3s-agent.service', 'keepalived.service', 'kubi-pod-routes.service', 'containerd.service', 'etcd.service'] as const;

const UNIT_FILES = [
  '/etc/systemd/system/etcd.service',
  '/etc/systemd/system/containerd.service',
  '/etc/systemd/system/k3s.service',
  '/etc/systemd/system/k3s-agent.service',
  CNI_PATHS.routesUnit,
];

/** Every path the tool writes on a host (the etcd data directory comes from the inventory). */
export function resetPaths(inv: Inventory): string[] {
  return [
    ...UNIT_FILES,
    JOIN_DROPIN_PATH,
    JOIN_ENV_PATH,
    '/run/kubi-provision',
    // configuration
    '/etc/etcd',
    '/etc/rancher',
    '/etc/containerd',
    '/etc/crictl.yaml',
    CNI_PATHS.conflist,
    CNI_PATHS.loopback,
    ENDPOINT_PATHS.keepalivedConf,
    ENDPOINT_PATHS.checkScript,
    '/etc/profile.d/etcdctl.sh',
    '/etc/sysctl.d/90-kubi.conf',
    '/etc/modules-load.d/kubi.conf',
    // runtime state and the tool's own records (data directories: resetDataDirs)
    '/run/k3s',
    '/run/containerd',
    '/var/lib/kubi-provision',
    '/usr/local/lib/kubi',
    // binaries
    '/usr/local/bin/etcd',
    '/usr/local/bin/etcdctl',
    '/usr/local/bin/etcdutl',
    '/usr/local/bin/k3s',
    '/usr/local/bin/containerd',
    '/usr/local/bin/containerd-shim-runc-v2',
    '/usr/local/bin/ctr',
    '/usr/local/bin/crictl',
    '/usr/local/sbin/runc',
    '/opt/cni/bin',
  ];
}

/** Data directories: often mount points (a disk for etcd, the lab's volumes), so they are emptied, and removed only when they are not mounts. */
export function resetDataDirs(inv: Inventory): string[] {
  return [inv.etcd.dataDir, '/var/lib/rancher', '/var/lib/kubelet', '/var/lib/containerd', '/var/lib/cni'];
}

const ACTIVE = new Set(['active', 'activating', 'deactivating', 'reloading', 'refreshing']);
const ENABLED = new Set(['enabled', 'enabled-runtime', 'linked', 'linked-runtime', 'alias']);
const MOUNT_PREFIXES = ['/run/k3s', '/var/lib/kubelet', '/run/netns/cni-', '/run/containerd', '/var/lib/rancher', '/var/lib/containerd'];

// ---------------------------------------------------------------- reset.services

export interface ServicesObserved {
  units: Observation['units'];
  /** pids of container shims (containerd-shim-runc-v2) */
  shims: number[];
  /** mount points left by containers and pods */
  mounts: string[];
}

function servicesExtraScript(): string {
  const prefixes = MOUNT_PREFIXES.map((p) => quoteWord(p)).join(' ');
  return `${SECTION_FN}
s shims; for p in /proc/[0-9]*; do e=$(readlink "$p/exe" 2>/dev/null) || continue; case "$e" in */containerd-shim-runc-v2*) echo "\${p#/proc/}";; esac; done
s mounts; awk '{print $5}' /proc/self/mountinfo | while read -r m; do for pre in ${prefixes}; do case "$m" in "$pre"*) echo "$m";; esac; done; done | sort -u
true
`;
}

export function planResetServices(o: ServicesObserved): Change[] {
  const changes: Change[] = [];
  for (const unit of RESET_UNITS) {
    const u = o.units.get(unit);
    if (!u || u.enabled === 'not-found') continue;
    if (ACTIVE.has(u.active)) changes.push({ kind: 'command', title: `stop ${unit}`, argv: ['systemctl', 'stop', unit] });
    if (ENABLED.has(u.enabled)) changes.push({ kind: 'command', title: `disable ${unit}`, argv: ['systemctl', 'disable', unit] });
  }
  if (o.shims.length > 0) {
    changes.push({
      kind: 'script',
      title: `stop ${o.shims.length} leftover container shim process${o.shims.length === 1 ? '' : 'es'}`,
      // the pids are re-read at apply time: only processes whose binary is a container shim
      script: `for p in /proc/[0-9]*; do e=$(readlink "$p/exe" 2>/dev/null) || continue; case "$e" in */containerd-shim-runc-v2*) kill -9 "\${p#/proc/}" 2>/dev/null || true;; esac; done; sleep 1`,
    });
  }
  if (o.mounts.length > 0) {
    // deepest first
    const sorted = [...o.mounts].sort((a, b) => b.length - a.length);
    changes.push({ kind: 'script', title: `unmount ${sorted.length} leftover container mount${sorted.length === 1 ? '' : 's'}`, script: sorted.map((m) => `umount -l ${quoteWord(m)} 2>/dev/null || true`).join('\n') });
  }
  return changes;
}

export const resetServices: Step<ServicesObserved> = {
  id: 'reset.services',
  title: 'Stop and disable the services kubi-provision installed',
  async check(ctx) {
    const obs = await observe(ctx.remote, { units: [...RESET_UNITS] });
    const extra = await ctx.remote.script(servicesExtraScript(), { mutating: false, label: 'find container shims and mounts', allowFailure: true });
    const sec = sections(extra.stdout);
    return { units: obs.units, shims: lines(sec('shims')).map(Number).filter((n) => n > 0), mounts: lines(sec('mounts')) };
  },
  plan: (o) => planResetServices(o),
};

// ---------------------------------------------------------------- reset.network

export interface NetworkObserved {
  /** interfaces to delete, veths first */
  links: string[];
  /** destinations of routes with the tool's protocol */
  routes: string[];
  /** VIP addresses found: "<addr>/<prefix> <dev>" */
  vips: { cidr: string; dev: string }[];
  netns: string[];
  /** iptables rules that mention KUBE-, CNI- or flannel */
  iptablesRules: number;
}

const FIXED_LINKS = [BRIDGE_NAME, 'flannel.1', 'flannel-v6.1', 'kube-ipvs0', 'flannel-wg', 'flannel-wg-v6'];

function networkScript(vip: string | null): string {
  return `${SECTION_FN}
export LC_ALL=C
s veths; ip -o link show master ${BRIDGE_NAME} 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1
s links; ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1
s routes; ip -4 route show proto ${POD_ROUTE_PROTO} 2>/dev/null | awk '{print $1}'
s vips; ${vip ? `ip -o -4 addr show 2>/dev/null | awk '$4 ~ /^${vip.replace(/\./g, '\\.')}\\// {print $4, $2}'` : 'true'}
s netns; ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true
s iptables; if command -v iptables-save >/dev/null 2>&1; then iptables-save 2>/dev/null | grep -v '^#' | grep -cE 'KUBE-|CNI-|flannel' || true; else echo 0; fi
true
`;
}

export function parseNetwork(out: string): NetworkObserved {
  const sec = sections(out);
  const present = new Set(lines(sec('links')));
  const veths = lines(sec('veths'));
  return {
    links: [...veths, ...FIXED_LINKS.filter((l) => present.has(l))],
    routes: lines(sec('routes')),
    vips: lines(sec('vips')).map((l) => {
      const [cidr, dev] = l.split(/\s+/);
      return { cidr: cidr ?? '', dev: dev ?? '' };
    }),
    netns: lines(sec('netns')),
    iptablesRules: Number(lines(sec('iptables'))[0] ?? 0) || 0,
  };
}

export function planResetNetwork(o: NetworkObserved): Change[] {
  const changes: Change[] = [];
  for (const dst of o.routes) changes.push({ kind: 'command', title: `delete the pod route to ${dst}`, argv: ['ip', 'route', 'del', dst, 'proto', String(POD_ROUTE_PROTO)] });
  for (const v of o.vips) changes.push({ kind: 'command', title: `remove the VIP ${v.cidr} from ${v.dev}`, argv: ['ip', 'addr', 'del', v.cidr, 'dev', v.dev] });
  for (const ns of o.netns) changes.push({ kind: 'command', title: `delete network namespace ${ns}`, argv: ['ip', 'netns', 'delete', ns] });
  for (const l of o.links) changes.push({ kind: 'command', title: `delete interface ${l}`, argv: ['ip', 'link', 'delete', l] });
  if (o.iptablesRules > 0) {
    changes.push({
      kind: 'script',
      title: `remove ${o.iptablesRules} KUBE-/CNI-/flannel iptables rule${o.iptablesRules === 1 ? '' : 's'}`,
      script: 'set -eu\niptables-save | grep -vE "KUBE-|CNI-|flannel" | iptables-restore',
    });
  }
  return changes;
}

export const resetNetwork: Step<NetworkObserved> = {
  id: 'reset.network',
  title: 'Remove pod routes, the VIP and the pod network interfaces',
  async check(ctx) {
    const res = await ctx.remote.script(networkScript(ctx.cluster.inventory.endpoint.vip ?? null), { mutating: false, label: 'observe pod network leftovers', allowFailure: true });
    return parseNetwork(res.stdout);
  },
  plan: (o) => planResetNetwork(o),
};

// ---------------------------------------------------------------- reset.files

export interface FilesObserved {
  observation: Observation;
  /** etcd data directories moved aside by replace/restore/failed joins */
  movedAside: string[];
  /** data directories that still hold something, or exist and are not mount points */
  dataDirs: string[];
}

function filesExtraScript(dataDir: string, dataDirs: readonly string[]): string {
  const d = quoteWord(dataDir);
  return `${SECTION_FN}
s aside; for p in ${d}.replaced-* ${d}.failed-join-* ${d}.before-restore-*; do [ -e "$p" ] && echo "$p"; done
s data; for p in ${dataDirs.map(quoteWord).join(' ')}; do
  [ -d "$p" ] || continue
  if [ -n "$(ls -A "$p" 2>/dev/null)" ] || ! mountpoint -q "$p"; then echo "$p"; fi
done
true
`;
}

/** Empty a data directory; remove it unless it is a mount point. */
export function emptyDirScript(dir: string): string {
  const q = quoteWord(dir);
  return `find ${q} -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +\nif ! mountpoint -q ${q}; then rmdir ${q}; fi`;
}

export function planResetFiles(o: FilesObserved, paths: readonly string[]): Change[] {
  const present = paths.filter((p) => (o.observation.files.get(p)?.type ?? 'missing') !== 'missing');
  const changes: Change[] = [...present, ...o.movedAside].map((p) => ({ kind: 'delete' as const, path: p, recursive: true }));
  for (const dir of o.dataDirs) changes.push({ kind: 'script', title: `empty and remove ${dir} (a mount point stays, empty)`, script: emptyDirScript(dir) });
  if (present.some((p) => UNIT_FILES.includes(p) || p === JOIN_DROPIN_PATH)) {
    changes.push({ kind: 'service', unit: 'etcd.service', action: 'daemon-reload' });
  }
  return changes;
}

export const resetFiles: Step<FilesObserved> = {
  id: 'reset.files',
  title: 'Delete the units, configuration, data and binaries kubi-provision installed',
  async check(ctx) {
    const inv = ctx.cluster.inventory;
    const observation = await observeFiles(ctx.remote, resetPaths(inv));
    const res = await ctx.remote.script(filesExtraScript(inv.etcd.dataDir, resetDataDirs(inv)), { mutating: false, label: 'find data directories and moved-aside etcd data', allowFailure: true });
    const sec = sections(res.stdout);
    return { observation, movedAside: lines(sec('aside')), dataDirs: lines(sec('data')) };
  },
  plan: (o, ctx) => planResetFiles(o, resetPaths(ctx.cluster.inventory)),
};

export const resetSteps = [resetServices, resetNetwork, resetFiles];
