/**
 * Quorum arithmetic for etcd membership changes (pure). etcd commits a change (a key, a member
 * added or removed) only when a majority of its VOTING members agree; learners do not vote. Every
 * lifecycle operation asks here first whether it can finish without losing that majority, and
 * gets back either "go" or a refusal that explains the numbers in plain words.
 */

export type MemberHealth = 'healthy' | 'unhealthy' | 'unreachable';

/** One etcd member as the lifecycle code sees it. */
export interface MemberView {
  name: string;
  health: MemberHealth;
  /** a learner does not vote and does not count for quorum */
  isLearner?: boolean;
}

export type Assessment = { ok: true; notes: string[] } | { ok: false; reason: string; explanation: string[] };

/** Votes needed for a decision among `voters` voting members. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** How many voting members may fail while the cluster still decides. */
export function faultTolerance(voters: number): number {
  return Math.max(0, voters - quorumOf(voters));
}

function names(list: readonly MemberView[]): string {
  return list.length === 0 ? 'none' : list.map((m) => m.name).join(', ');
}

/** How a member's state reads in an explanation. */
export function healthLabel(h: MemberHealth): string {
  return h === 'healthy' ? 'healthy' : h === 'unhealthy' ? 'running, not healthy' : 'down or unreachable';
}

function describeDown(list: readonly MemberView[]): string {
  return list.map((m) => `${m.name} (${healthLabel(m.health)})`).join(', ');
}

const LOST_QUORUM_HINTS = [
  'bring the members that are down back (start etcd on them, fix their network), then run the command again',
  'if they are lost for good, rebuild the cluster from a backup: kubi-provision restore <inventory> <backup> (see docs/backup-restore.md)',
];

/**
 * Replace `target` (remove its stale member, then add it back): after the removal, the other
 * healthy voters must still be a majority of the smaller cluster, and a majority must exist now.
 */
export function assessReplace(members: readonly MemberView[], target: string): Assessment {
  const voters = members.filter((m) => !m.isLearner);
  const targetVoter = voters.find((m) => m.name === target);
  const others = voters.filter((m) => m.name !== target);
  const healthyOthers = others.filter((m) => m.health === 'healthy');
  const downOthers = others.filter((m) => m.health !== 'healthy');
  const n = voters.length;
  const after = targetVoter ? n - 1 : n;
  const need = Math.max(1, quorumOf(after));
  const healthyNow = healthyOthers.length + (targetVoter?.health === 'healthy' ? 1 : 0);
  if (healthyOthers.length >= need && healthyNow >= quorumOf(n)) {
    const notes = [`${healthyOthers.length} of the ${others.length} other voting members are healthy (${names(healthyOthers)}); ${need} are needed while ${target} is out`];
    if (downOthers.length > 0) notes.push(`also down: ${describeDown(downOthers)}: replace it next`);
    return { ok: true, notes };
  }
  return {
    ok: false,
    reason: `replacing ${target} would need a majority of etcd members that is not there: ${healthyOthers.length} of the ${others.length} other members are healthy, ${need} are needed`,
    explanation: [
      `etcd has ${n} voting member${n === 1 ? '' : 's'}: ${voters.map((m) => `${m.name} (${m.name === target ? 'being replaced' : healthLabel(m.health)})`).join(', ')}.`,
      `every membership change needs a majority of the voting members to agree: ${quorumOf(n)} of ${n} now, and ${need} of the ${after} left once ${target}'s stale member is removed.`,
      `healthy besides ${target}: ${healthyOthers.length} (${names(healthyOthers)}); down: ${downOthers.length > 0 ? describeDown(downOthers) : 'none'}.`,
      `removing or adding a member now would fail (etcd refuses it) or leave a cluster that cannot decide anything; nothing was changed.`,
      ...LOST_QUORUM_HINTS,
    ],
  };
}

/**
 * Remove `target` for good: the healthy voters left must be a majority of the smaller cluster.
 * An even number of members left is refused unless forced (it tolerates no more failures than one
 * member fewer, and a network split can stop it entirely); removing the last member is refused.
 */
export function assessRemove(members: readonly MemberView[], target: string, opts: { force?: boolean } = {}): Assessment {
  const voters = members.filter((m) => !m.isLearner);
  const targetMember = members.find((m) => m.name === target);
  if (targetMember?.isLearner) return { ok: true, notes: [`${target} is a learner: it does not vote, removing it changes no majority`] };
  const n = voters.length;
  const after = targetMember ? n - 1 : n;
  if (after === 0) {
    return {
      ok: false,
      reason: `${target} is the last etcd member: removing it would delete the cluster's data`,
      explanation: ['to take the whole cluster down use kubi-provision reset (after a backup if you want the data).'],
    };
  }
  const others = voters.filter((m) => m.name !== target);
  const healthyOthers = others.filter((m) => m.health === 'healthy');
  const need = quorumOf(after);
  if (healthyOthers.length < need) {
    return {
      ok: false,
      reason: `removing ${target} would leave ${after} member${after === 1 ? '' : 's'} of which only ${healthyOthers.length} ${healthyOthers.length === 1 ? 'is' : 'are'} healthy: ${need} are needed`,
      explanation: [
        `etcd has ${n} voting members: ${voters.map((m) => `${m.name} (${healthLabel(m.health)})`).join(', ')}.`,
        `after removing ${target}, ${need} of the ${after} remaining members must be healthy for the cluster to decide anything; only ${healthyOthers.length} are (${names(healthyOthers)}).`,
        'nothing was changed.',
        ...LOST_QUORUM_HINTS,
      ],
    };
  }
  if (after % 2 === 0 && !opts.force) {
    return {
      ok: false,
      reason: `removing ${target} would leave an even number of etcd members (${after}): refused without --force`,
      explanation: [
        `${after} members need ${quorumOf(after)} to agree and tolerate ${faultTolerance(after)} failure${faultTolerance(after) === 1 ? '' : 's'}, no more than ${after - 1} member${after - 1 === 1 ? '' : 's'} would; a network split into two halves stops the cluster.`,
        `add a replacement first (a new etcd host in the inventory, then up), or pass --force if ${after} members is what you want (then set etcd.allowEvenMembers: true in the inventory).`,
      ],
    };
  }
  return { ok: true, notes: [`${healthyOthers.length} of the ${after} members left are healthy; ${need} are needed`] };
}

/** Add one member (as a learner, then promoted): a majority must exist now and once it votes. */
export function assessAdd(members: readonly MemberView[], newName: string): Assessment {
  const voters = members.filter((m) => !m.isLearner && m.name !== newName);
  const healthy = voters.filter((m) => m.health === 'healthy');
  const n = voters.length;
  if (n === 0) return { ok: false, reason: 'the etcd cluster has no voting member to add to', explanation: LOST_QUORUM_HINTS };
  if (healthy.length < quorumOf(n) || healthy.length + 1 < quorumOf(n + 1)) {
    return {
      ok: false,
      reason: `adding ${newName} needs a majority of the etcd members: ${healthy.length} of ${n} are healthy, ${quorumOf(n)} are needed`,
      explanation: [
        `voting members: ${voters.map((m) => `${m.name} (${healthLabel(m.health)})`).join(', ')}.`,
        `adding a member is a change the majority must agree to (${quorumOf(n)} of ${n}), and once ${newName} votes ${quorumOf(n + 1)} of ${n + 1} are needed.`,
        'nothing was changed.',
        ...LOST_QUORUM_HINTS,
      ],
    };
  }
  return { ok: true, notes: [`${healthy.length} of ${n} voting members are healthy`] };
}

/** The refusal as one message plus a multi-line hint (for a KubiError). */
export function refusalHint(a: Extract<Assessment, { ok: false }>): string {
  return a.explanation.join('\n  ');
}
