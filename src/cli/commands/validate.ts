/**
 * `kubi-provision validate <inventory>`: load and check an inventory (YAML syntax, schema,
 * cross-host rules), print a short summary, exit 0; or list every problem and exit 2.
 * Never opens a network connection: only the inventory file is read.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { LoadedInventory } from '../../inventory/load.js';
import type { CliContext, Colors } from '../output.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('validate')
    .description('check an inventory file and print a summary (offline: nothing is contacted)')
    .argument('<inventory>', 'inventory YAML file, e.g. inventories/homelab.yaml')
    .action(async (file: string) => {
      const { loadInventory } = await import('../../inventory/load.js');
      const loaded = await loadInventory(file);
      const { resolveClusterDns } = await import('../../inventory/helpers.js');
      cli.output.out(formatSummary(loaded, cli.output.color, { file, clusterDns: resolveClusterDns(loaded.inventory) }));
    });
}

/** The summary `validate` prints (pure). */
export function formatSummary(loaded: LoadedInventory, c: Colors, extra: { file: string; clusterDns: string; cwd?: string }): string {
  const inv = loaded.inventory;
  const lines: string[] = [];
  const label = (s: string) => c.dim(s.padEnd(10));
  lines.push(`${c.green('valid:')} ${extra.file}`);
  lines.push(`${label('cluster')} ${c.bold(inv.cluster.name)}`);
  const count = (role: string) => inv.hosts.filter((h) => (h.roles as readonly string[]).includes(role)).length;
  lines.push(`${label('hosts')} ${inv.hosts.length} (${count('etcd')} etcd, ${count('server')} server, ${count('agent')} agent)`);
  const nameWidth = Math.max(...inv.hosts.map((h) => h.name.length));
  const addrWidth = Math.max(...inv.hosts.map((h) => h.address.length));
  for (const h of inv.hosts) {
    const extras = [h.arch, ...(h.taints ?? []).map((t) => `taint ${t}`)].filter(Boolean).join(', ');
    lines.push(`  ${h.name.padEnd(nameWidth)}  ${h.address.padEnd(addrWidth)}  ${h.roles.join(', ')}${extras ? `  (${extras})` : ''}`);
  }
  const ep = inv.endpoint;
  const endpoint =
    ep.mode === 'none'
      ? `none: the API is at the first server, ${firstServer(loaded)}:${ep.port}`
      : `${ep.mode}, vip ${ep.vip}:${ep.port}${ep.interface ? ` on ${ep.interface}` : ''}`;
  lines.push(`${label('endpoint')} ${endpoint}`);
  const v = inv.versions;
  lines.push(`${label('versions')} k3s ${v.k3s}, etcd ${v.etcd}, containerd ${v.containerd}, runc ${v.runc}, cni ${v.cni}`);
  const n = inv.network;
  lines.push(`${label('network')} cni ${n.cni}, pods ${n.podCidr}, services ${n.serviceCidr}, dns ${extra.clusterDns}`);
  const artifacts = inv.artifacts.source === 'offline' ? `offline from ${inv.artifacts.dir}` : inv.artifacts.mirrorUrl ? `upstream via ${inv.artifacts.mirrorUrl}` : 'upstream downloads';
  lines.push(`${label('artifacts')} ${artifacts}`);
  lines.push(`${label('state dir')} ${displayPath(loaded.stateDir, extra.cwd ?? process.cwd())}`);
  return `${lines.join('\n')}\n`;
}

function firstServer(loaded: LoadedInventory): string {
  return loaded.inventory.hosts.find((h) => h.roles.includes('server'))?.address ?? '?';
}

/** Relative to cwd when inside it (shorter), absolute otherwise. */
function displayPath(p: string, cwd: string): string {
  if (cwd === path.parse(cwd).root) return p;
  const rel = path.relative(cwd, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
