/**
 * Check-ahead (src/engine/prefetch.ts): in plan mode every host step's check starts at once
 * through the host's batched() view; the runner uses what it observed at the step's turn, runs a
 * check that failed early again, and replays its messages. Apply mode never checks ahead.
 * The hosts are the engine's scripted fakes (test/engine/fake-host.ts) given a batched() view
 * that records which calls went through it.
 */
import { describe, expect, it } from 'vitest';
import { runPlaybook } from '../../src/engine/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { Step } from '../../src/engine/types.js';
import type { RemoteHost } from '../../src/transport/types.js';
import { cluster, fakeHosts, playbookOf, registryWith, threeNodes } from './helpers.js';

/** A step whose check reads /etc/<id> on the host and remembers the order checks happened in. */
function echoStep(id: string, order: string[], opts: { failFirst?: boolean; message?: string } = {}): Step<string> {
  let failed = false;
  return {
    id,
    title: `Echo ${id}`,
    async check(ctx) {
      if (opts.message) ctx.report(opts.message);
      if (opts.failFirst && !failed) {
        failed = true;
        throw new Error('not there yet');
      }
      const r = await ctx.remote.getFile(`/etc/${id}`);
      order.push(`${id}@${ctx.host.name}`);
      return r === null ? 'missing' : r.toString();
    },
    plan: () => [],
  };
}

const PB = `
name: demo
description: three steps
steps:
  - id: demo.one
    hosts: all
  - id: demo.two
    hosts: all
  - id: demo.three
    hosts: all
`;

function withViews(hosts: Map<string, RemoteHost>, viaView: string[]): Map<string, RemoteHost> {
  const out = new Map<string, RemoteHost>();
  for (const [name, h] of hosts) {
    const view: RemoteHost = {
      name: h.name,
      address: h.address,
      isRoot: h.isRoot,
      exec: (argv, o) => h.exec(argv, o),
      script: (s, o) => h.script(s, o),
      getFile: (p, o) => {
        viaView.push(`${p}@${name}`);
        return h.getFile(p, o);
      },
      putFile: (p, c, o) => h.putFile(p, c, o),
      reconnect: (o) => h.reconnect(o),
      stats: () => h.stats(),
    };
    out.set(name, Object.assign(Object.create(h) as RemoteHost, { batched: () => view }));
  }
  return out;
}

describe('check-ahead in plan mode', () => {
  it('starts every check at once through the batched view and uses each result once', async () => {
    const order: string[] = [];
    const viaView: string[] = [];
    const steps = ['demo.one', 'demo.two', 'demo.three'].map((id) => echoStep(id, order));
    const inv = threeNodes();
    const hosts = withViews(fakeHosts(inv), viaView);
    const events: EngineEvent[] = [];
    let checkedWhenFirstStepEnded = -1;
    const onEvent = (e: EngineEvent): void => {
      events.push(e);
      if (e.type === 'step-end' && e.step === 'demo.one') checkedWhenFirstStepEnded = order.length;
    };
    const res = await runPlaybook({ playbook: playbookOf(registryWith(...steps), PB), cluster: cluster(inv, 'plan'), remotes: hosts, onEvent });
    expect(res.failure?.error.message, String(res.failure?.error.hint)).toBeUndefined();
    expect(res.ok).toBe(true);
    const n = inv.hosts.length;
    // every check ran exactly once, all of them through the views
    expect(order).toHaveLength(3 * n);
    expect(new Set(order).size).toBe(3 * n);
    expect(viaView).toHaveLength(3 * n);
    // all checks had run before the first step ended (they did not wait for their turn)
    expect(checkedWhenFirstStepEnded).toBe(3 * n);
    expect(res.steps.every((s) => s.hosts.every((h) => h.status === 'up-to-date'))).toBe(true);
  });

  it('runs a check that failed early again at its turn, and replays what a check reported', async () => {
    const order: string[] = [];
    const viaView: string[] = [];
    const steps = [echoStep('demo.one', order, { message: 'hello from one' }), echoStep('demo.two', order, { failFirst: true }), echoStep('demo.three', order)];
    const inv = threeNodes();
    const hosts = withViews(fakeHosts(inv), viaView);
    const events: EngineEvent[] = [];
    const res = await runPlaybook({ playbook: playbookOf(registryWith(...steps), PB), cluster: cluster(inv, 'plan'), remotes: hosts, onEvent: (e) => events.push(e) });
    expect(res.ok).toBe(true);
    // demo.two failed early on the first host only (its step object fails once): that host ran it again, unbatched
    expect(order.filter((o) => o.startsWith('demo.two'))).toHaveLength(inv.hosts.length);
    expect(viaView.filter((v) => v.startsWith('/etc/demo.two'))).toHaveLength(inv.hosts.length - 1);
    const messages = events.filter((e): e is Extract<EngineEvent, { type: 'host-message' }> => e.type === 'host-message');
    expect(messages.filter((m) => m.step === 'demo.one' && m.message === 'hello from one').map((m) => m.host).sort()).toEqual(inv.hosts.map((h) => h.name).sort());
  });

  it('apply mode and prefetch: false never check ahead', async () => {
    for (const [mode, prefetch] of [
      ['apply', undefined],
      ['plan', false],
    ] as const) {
      const order: string[] = [];
      const viaView: string[] = [];
      const steps = ['demo.one', 'demo.two', 'demo.three'].map((id) => echoStep(id, order));
      const inv = threeNodes();
      const hosts = withViews(fakeHosts(inv), viaView);
      let checkedWhenFirstStepEnded = -1;
      const res = await runPlaybook({
        playbook: playbookOf(registryWith(...steps), PB),
        cluster: cluster(inv, mode),
        remotes: hosts,
        onEvent: (e) => {
          if (e.type === 'step-end' && e.step === 'demo.one') checkedWhenFirstStepEnded = order.length;
        },
        ...(prefetch === undefined ? {} : { prefetch }),
      });
      expect(res.ok).toBe(true);
      expect(viaView).toEqual([]);
      // step by step: only demo.one's checks had run when demo.one ended
      expect(checkedWhenFirstStepEnded).toBe(inv.hosts.length);
      expect(order).toHaveLength(3 * inv.hosts.length);
    }
  });
});
