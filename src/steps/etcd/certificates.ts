/**
 * `etcd.certificates`: the CA certificate, the member's server and peer certificates and keys,
 * and the admin client certificate for etcdctl, in /etc/etcd/pki (directory 0700, keys 0600,
 * owned by root). Key contents are secret: never read back, never shown, compared by sha256.
 */
import type { Step } from '../../engine/types.js';
import { observeDesired, planDesired, type DesiredState, type Observation } from '../lib/index.js';
import { etcdDesired } from './desired.js';

async function desired(ctx: Parameters<Step['check']>[0]): Promise<DesiredState> {
  const d = await etcdDesired(ctx);
  return { dirs: d.dirs.filter((x) => x.path !== ctx.cluster.inventory.etcd.dataDir), files: d.certificates };
}

export const etcdCertificatesStep: Step<Observation> = {
  id: 'etcd.certificates',
  title: 'Distribute the etcd certificates',
  async check(ctx) {
    return observeDesired(ctx.remote, await desired(ctx));
  },
  async plan(observed, ctx) {
    return planDesired(await desired(ctx), observed);
  },
};
