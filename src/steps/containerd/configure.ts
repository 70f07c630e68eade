/**
 * `containerd.configure`: /etc/containerd/config.toml (systemd cgroups, the sandbox image, the CNI
 * directories of the inventory's CNI mode, overlayfs), the systemd unit and /etc/crictl.yaml,
 * then the service: enabled and running, restarted only when its binaries, config or unit
 * changed (fingerprint). After a (re)start it waits until `ctr version` reaches the daemon (and
 * `crictl info` answers when crictl is installed).
 */
import type { Step, StepContext } from '../../engine/types.js';
import { CONTAINERD_PATHS } from '../../render/containerd.js';
import { observeDesired, planDesired, type DesiredState, type Observation } from '../lib/index.js';
import { tail, waitUntil, type ProbeVerdict } from '../k3s/wait.js';
import { CONTAINERD_UNIT, CRICTL_PATH, containerdDesired } from './desired.js';

async function desired(ctx: StepContext): Promise<DesiredState> {
  const d = await containerdDesired(ctx);
  return { dirs: d.dirs, files: d.config, services: [d.service] };
}

/** Read-only probe: the daemon answers ctr (stdin from /dev/null: ctr reads it), and crictl when present. */
export function containerdProbeScript(): string {
  return [
    'export LC_ALL=C',
    `if ! out=$(timeout 10 ctr --address /run/containerd/containerd.sock version </dev/null 2>&1); then echo "@@ctr=fail"; echo "$out"; systemctl is-active ${CONTAINERD_UNIT} 2>&1; exit 0; fi`,
    'echo "$out" | grep -q "^Server:" || { echo "@@ctr=fail"; echo "$out"; exit 0; }',
    `if [ -x ${CRICTL_PATH} ]; then if ! c=$(timeout 10 ${CRICTL_PATH} info </dev/null 2>&1); then echo "@@crictl=fail"; echo "$c" | tail -n 5; exit 0; fi; fi`,
    'echo "@@ready"',
  ].join('\n');
}

/** Pure: what the probe printed. */
export function evaluateContainerdProbe(out: string): ProbeVerdict {
  if (out.includes('@@ready')) return { state: 'ready' };
  return { state: 'waiting', evidence: tail(out) };
}

export const containerdConfigure: Step<Observation> = {
  id: 'containerd.configure',
  title: 'Configure containerd and keep it running',
  async check(ctx) {
    return observeDesired(ctx.remote, await desired(ctx));
  },
  async plan(observed, ctx) {
    return planDesired(await desired(ctx), observed);
  },
  async settle(ctx) {
    await waitUntil(
      ctx,
      async () => evaluateContainerdProbe((await ctx.remote.script(containerdProbeScript(), { mutating: false, allowFailure: true, label: 'probe containerd' })).stdout),
      {
        purpose: `containerd on ${ctx.host.name} to answer ctr version`,
        timeoutMs: 120_000,
        intervalMs: 2_000,
        code: 'containerd-not-ready',
        hint: `look at journalctl -u ${CONTAINERD_UNIT} on ${ctx.host.name}; the config is ${CONTAINERD_PATHS.config}`,
      },
    );
  },
};
