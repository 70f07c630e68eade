/** Quorum arithmetic and the refusals' explanations (pure), with a property check against brute force. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assessAdd, assessRemove, assessReplace, faultTolerance, quorumOf, refusalHint, type MemberView } from '../../src/steps/lifecycle/quorum.js';

const m = (name: string, health: MemberView['health'], isLearner = false): MemberView => ({ name, health, isLearner });

describe('quorum numbers', () => {
  it('majority and fault tolerance for 1..7 voters', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect([1, 2, 3, 4, 5, 6, 7].map(faultTolerance)).toEqual([0, 0, 1, 1, 2, 2, 3]);
  });
});

describe('assessReplace', () => {
  it('goes ahead when only the replaced member is down (3 members)', () => {
    const a = assessReplace([m('node1', 'healthy'), m('node2', 'healthy'), m('node3', 'unreachable')], 'node3');
    expect(a.ok).toBe(true);
  });

  it('refuses two of three down, and explains the numbers', () => {
    const a = assessReplace([m('node1', 'healthy'), m('node2', 'unreachable'), m('node3', 'unreachable')], 'node3');
    expect(a.ok).toBe(false);
    if (a.ok) return;
    expect(a.reason).toBe('replacing node3 would need a majority of etcd members that is not there: 1 of the 2 other members are healthy, 2 are needed');
    const hint = refusalHint(a);
    expect(hint).toContain('etcd has 3 voting members: node1 (healthy), node2 (down or unreachable), node3 (being replaced).');
    expect(hint).toContain('2 of 3 now, and 2 of the 2 left once node3');
    expect(hint).toContain('kubi-provision restore');
  });

  it('the first member is not special: replacing node1 is judged like any other', () => {
    const others = [m('node1', 'unreachable'), m('node2', 'healthy'), m('node3', 'healthy')];
    expect(assessReplace(others, 'node1').ok).toBe(true);
  });

  it('5 members with 2 down (the replaced one among them) still have a majority', () => {
    const five = [m('a', 'healthy'), m('b', 'healthy'), m('c', 'healthy'), m('d', 'unreachable'), m('e', 'unreachable')];
    expect(assessReplace(five, 'e').ok).toBe(true);
    expect(assessReplace([...five.slice(0, 2), m('c', 'unhealthy'), ...five.slice(3)], 'e').ok).toBe(false);
  });

  it('a single-member cluster cannot replace its only member (restore instead)', () => {
    expect(assessReplace([m('solo', 'unreachable')], 'solo').ok).toBe(false);
  });

  it('agrees with a brute-force model of "a majority exists before, and after the removal"', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<MemberView['health']>('healthy', 'unhealthy', 'unreachable'), { minLength: 1, maxLength: 7 }), fc.nat(6), (healths, t) => {
        const members = healths.map((h, i) => m(`n${i}`, h));
        const target = members[t % members.length]!.name;
        const others = members.filter((x) => x.name !== target);
        const healthyOthers = others.filter((x) => x.health === 'healthy').length;
        const targetHealthy = members.find((x) => x.name === target)!.health === 'healthy' ? 1 : 0;
        const n = members.length;
        const expected = healthyOthers >= Math.max(1, Math.floor((n - 1) / 2) + 1) && healthyOthers + targetHealthy > n / 2;
        expect(assessReplace(members, target).ok).toBe(expected);
      }),
    );
  });
});

describe('assessRemove', () => {
  it('refuses leaving an even number without --force, allows it with', () => {
    const three = [m('node1', 'healthy'), m('node2', 'healthy'), m('node3', 'healthy')];
    const a = assessRemove(three, 'node3');
    expect(a.ok).toBe(false);
    if (!a.ok) {
      expect(a.reason).toContain('even number of etcd members (2)');
      expect(refusalHint(a)).toContain('tolerate 0 failures');
    }
    expect(assessRemove(three, 'node3', { force: true }).ok).toBe(true);
  });

  it('removing from 5 leaves 4 (even: refused unless forced); from 4 leaves 3 (fine)', () => {
    const five = ['a', 'b', 'c', 'd', 'e'].map((n) => m(n, 'healthy'));
    expect(assessRemove(five, 'e').ok).toBe(false);
    expect(assessRemove(five.slice(0, 4), 'd').ok).toBe(true);
  });

  it('refuses when the members left could not form a majority, even with --force', () => {
    const a = assessRemove([m('node1', 'healthy'), m('node2', 'unreachable'), m('node3', 'healthy')], 'node3', { force: true });
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.reason).toBe('removing node3 would leave 2 members of which only 1 is healthy: 2 are needed');
  });

  it('refuses the last member; a learner can always go', () => {
    expect(assessRemove([m('solo', 'healthy')], 'solo', { force: true }).ok).toBe(false);
    expect(assessRemove([m('node1', 'healthy'), m('node2', 'unreachable'), m('node4', 'unreachable', true)], 'node4').ok).toBe(true);
  });
});

describe('assessAdd', () => {
  it('adds to a healthy or a 2-of-3 cluster, refuses 1 of 3', () => {
    expect(assessAdd([m('a', 'healthy'), m('b', 'healthy'), m('c', 'healthy')], 'd').ok).toBe(true);
    expect(assessAdd([m('a', 'healthy'), m('b', 'healthy'), m('c', 'unreachable')], 'd').ok).toBe(true);
    const a = assessAdd([m('a', 'healthy'), m('b', 'unreachable'), m('c', 'unreachable')], 'd');
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.reason).toBe('adding d needs a majority of the etcd members: 1 of 3 are healthy, 2 are needed');
  });
});
