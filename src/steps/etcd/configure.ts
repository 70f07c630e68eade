/**
 * `etcd.configure`: the data directory (0700), the systemd unit and the environment file it
 * reads (rendered from templates/ by src/render/etcd.ts), and the etcdctl environment for
 * administrators (/etc/profile.d/etcdctl.sh). A changed unit file gets one daemon-reload.
 * Starting and restarting belong to etcd.start and etcd.roll.
 */
import type { Step } from '../../engine/types.js';
import { observeDesired, planDesired, type DesiredState, type Observation } from '../lib/index.js';
import { etcdDesired } from './desired.js';

async function desired(ctx: Parameters<Step['check']>[0]): Promise<DesiredState> {
  const d = await etcdDesired(ctx);
  return { dirs: d.dirs, files: d.config };
}

export const etcdConfigure: Step<Observation> = {
  id: 'etcd.configure',
  title: 'Configure etcd',
  async check(ctx) {
    return observeDesired(ctx.remote, await desired(ctx));
  },
  async plan(observed, ctx) {
    return planDesired(await desired(ctx), observed);
  },
};
