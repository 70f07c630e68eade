/**
 * A running etcd member whose ADDRESS changed in the inventory (same machine, new IP): etcd keeps
 * the peer URL it was told at bootstrap, so the member list must be updated (`member update`),
 * and the member must restart to listen on the new address. Both happen here, in etcd.members,
 * before etcd.roll: otherwise the roll would find that member unreachable at its new address and
 * (rightly) refuse to restart anything. Only while every OTHER voting member is healthy: the
 * restart takes this one out for a moment. The inputs' fingerprint is recorded with the restart,
 * so etcd.roll does not restart it a second time.
 */
import { KubiError } from '../../errors.js';
import { applyChanges } from '../../engine/apply.js';
import type { StepContext } from '../../engine/types.js';
import { etcdClientUrl, etcdPeerUrl } from '../../render/etcd.js';
import { ETCD_FINGERPRINT_PATH, etcdDesired } from '../etcd/desired.js';
import { ETCD_UNIT, etcdWaitTimeoutMs } from '../etcd/health.js';
import { describeProbes, findHealthyMember, memberViews, readClusterView, updatePeerUrl, type Pace } from './etcd-cluster.js';
import { healthLabel } from './quorum.js';
import type { RemoteHost } from '../../transport/types.js';

export async function moveMember(ctx: StepContext, memberId: string, others: { name: string; remote: RemoteHost | undefined }[]): Promise<void> {
  const { cluster, host } = ctx;
  const inv = cluster.inventory;
  const pace: Pace = { now: () => cluster.now(), sleep: (ms) => cluster.sleep(ms), signal: cluster.signal };
  const found = await findHealthyMember(others, inv);
  if (!found.via) {
    throw new KubiError('etcd-no-healthy-member', `no other healthy etcd member to update ${host.name}'s address through: ${describeProbes(found.probes)}`, {
      host: host.name,
      hint: 'bring the other members back, then run up again',
    });
  }
  const down = memberViews(found.view, inv).filter((v) => v.name !== host.name && !v.isLearner && v.health !== 'healthy');
  if (down.length > 0) {
    throw new KubiError('etcd-roll-unsafe', `refusing to move ${host.name} to ${host.address}: other members are not healthy: ${down.map((v) => `${v.name} (${healthLabel(v.health)})`).join(', ')}`, {
      host: host.name,
      hint: 'restarting this member now could lose quorum: bring the others back first, then run up again',
    });
  }
  const url = etcdPeerUrl(host);
  ctx.report(`updating the peer URL of ${host.name} to ${url} through ${found.via.name}`);
  await updatePeerUrl(found.via, memberId, url, pace);
  const d = await etcdDesired(ctx);
  ctx.report(`restarting etcd on ${host.name} to listen on ${host.address}`);
  await applyChanges(ctx.remote, [{ kind: 'service', unit: ETCD_UNIT, action: 'restart', fingerprint: { path: ETCD_FINGERPRINT_PATH, value: d.fingerprint } }]);

  const timeoutMs = etcdWaitTimeoutMs(inv);
  const start = cluster.now().getTime();
  for (;;) {
    const view = await readClusterView(found.via, inv).catch(() => null);
    const me = view?.members.find((m) => m.id === memberId);
    const healthy = view?.health.some((h) => h.endpoint === etcdClientUrl(host) && h.health) === true;
    if (me && me.peerURLs.length === 1 && me.peerURLs[0] === url && healthy) return;
    if (cluster.now().getTime() - start >= timeoutMs) {
      throw new KubiError('etcd-wait-timeout', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${host.name} to answer healthy at ${etcdClientUrl(host)}`, {
        host: host.name,
        hint: `check journalctl -u etcd on ${host.name} and that ${host.address} is configured on it`,
      });
    }
    ctx.report(`waiting for ${host.name} to answer at its new address`);
    await cluster.sleep(1000);
  }
}
