/**
 * `host.kernel`: kernel modules (overlay, br_netfilter) and sysctls (forwarding, bridge
 * netfilter) in place now and at boot. At boot: /etc/modules-load.d/kubi.conf and
 * /etc/sysctl.d/90-kubi.conf (rendered by src/render/host-prep.ts). Now: `modprobe` for what is
 * missing, then `sysctl -w` for values that differ. One read-only round trip when converged.
 * Rules (how a module counts as loaded, containers): kernel-rules.ts.
 */
import type { Step } from '../../engine/types.js';
import { KERNEL_MODULES, SYSCTLS, hostPrepFiles } from '../../render/host-prep.js';
import { observeRequestFor, planFiles, type DesiredFile, type Observation } from '../lib/index.js';
import { kernelStateScript, parseKernelState, planKernelNow, type KernelState } from './kernel-rules.js';
import { observeWithExtra } from './script.js';

export interface KernelObserved {
  observation: Observation;
  state: KernelState;
}

export function kernelDesiredFiles(): DesiredFile[] {
  return hostPrepFiles().map((f) => ({ path: f.path, content: f.content, mode: f.mode, owner: 'root', group: 'root' }));
}

export const hostKernel: Step<KernelObserved> = {
  id: 'host.kernel',
  title: 'Load kernel modules and set sysctls, now and at boot',
  async check(ctx) {
    const req = observeRequestFor({ files: kernelDesiredFiles() });
    const { observation, extra } = await observeWithExtra(ctx.remote, req, kernelStateScript(KERNEL_MODULES, SYSCTLS), 'observe kernel modules and sysctls');
    return { observation, state: parseKernelState(extra) };
  },
  plan(observed, ctx) {
    return [
      ...planFiles(kernelDesiredFiles(), observed.observation),
      ...planKernelNow(observed.state, KERNEL_MODULES, SYSCTLS, { container: ctx.facts.container }),
    ];
  },
};
