/**
 * Host preparation files: kernel modules loaded at boot and the sysctls pod networking needs.
 * Same content on every host.
 */
import { renderTemplate, type RenderedFile } from './engine.js';

export const HOST_PREP_PATHS = {
  modulesLoad: '/etc/modules-load.d/kubi.conf',
  sysctl: '/etc/sysctl.d/90-kubi.conf',
} as const;

/** Kernel modules to load at boot (overlay for the snapshotter, br_netfilter for bridge netfilter sysctls). */
export const KERNEL_MODULES = ['overlay', 'br_netfilter'] as const;

/** Sysctls (name, value) in file order; bridge-nf-call-* exist only once br_netfilter is loaded. */
export const SYSCTLS: readonly (readonly [string, string])[] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.bridge.bridge-nf-call-iptables', '1'],
  ['net.bridge.bridge-nf-call-ip6tables', '1'],
];

export function renderModulesLoad(): string {
  return renderTemplate('etc/modules-load.d/kubi.conf', { modules: KERNEL_MODULES });
}

export function renderSysctl(): string {
  return renderTemplate('etc/sysctl.d/90-kubi.conf', { sysctls: SYSCTLS });
}

export function hostPrepFiles(): RenderedFile[] {
  return [
    { path: HOST_PREP_PATHS.modulesLoad, content: renderModulesLoad(), mode: 0o644 },
    { path: HOST_PREP_PATHS.sysctl, content: renderSysctl(), mode: 0o644 },
  ];
}
