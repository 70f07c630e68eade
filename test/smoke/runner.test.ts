/** The smoke runner: layer order, prerequisites, stages, parallelism across hosts, cleanup, selection. */
import { describe, expect, it } from 'vitest';
import { type Check, type CheckOutcome, failed, type Layer, type LayerId, NotRun, passed, warning } from '../../src/smoke/check.js';
import { failedCompletely, layerStatus, runSmoke } from '../../src/smoke/runner.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { testContext } from './harness/context.js';
import { FakeClock } from './harness/scripted-host.js';

function check(layer: LayerId, id: string, run: () => Promise<CheckOutcome>, extra: Partial<Check> = {}): Check {
  return { id, layer, title: id, run, ...extra };
}

function layer(id: LayerId, checks: Check[] | { notRun: string }, extra: Partial<Layer> = {}): Layer {
  return { id, title: id, requires: [], plan: async () => checks, ...extra };
}

describe('runSmoke', () => {
  it('runs layers in order and reports rows in declared order with durations', async () => {
    const clock = new FakeClock();
    const ctx = testContext({ hosts: [], clock });
    const order: string[] = [];
    const mk = (l: LayerId, id: string, ms: number, o: CheckOutcome): Check =>
      check(l, id, async () => {
        order.push(id);
        clock.advance(ms);
        return o;
      });
    const report = await runSmoke(
      [layer('hosts', [mk('hosts', 'a', 5, passed('ok a')), mk('hosts', 'b', 7, warning('meh'))]), layer('etcd', [mk('etcd', 'c', 3, failed('bad'))])],
      ctx,
    );
    expect(order).toEqual(['a', 'b', 'c']);
    expect(report.layers.map((l) => [l.id, l.status])).toEqual([
      ['hosts', 'warning'],
      ['etcd', 'failed'],
    ]);
    expect(report.layers[0]!.results.map((r) => [r.id, r.status, r.durationMs])).toEqual([
      ['a', 'passed', 5],
      ['b', 'warning', 7],
    ]);
    expect(report.summary).toEqual({ passed: 1, failed: 1, warning: 1, 'not-run': 0 });
    expect(report.ok).toBe(false);
    expect(report.durationMs).toBe(15);
  });

  it('is ok with only passes, warnings and not-run rows', async () => {
    const ctx = testContext({ hosts: [] });
    const report = await runSmoke([layer('hosts', [check('hosts', 'a', async () => warning('w'))]), layer('kubernetes', { notRun: 'k3s is not running' })], ctx);
    expect(report.ok).toBe(true);
    expect(report.layers[1]!.results).toEqual([
      { id: 'kubernetes.layer', layer: 'kubernetes', title: 'kubernetes', status: 'not-run', message: 'k3s is not running', durationMs: 0 },
    ]);
  });

  it('skips a layer as ONE row when a prerequisite layer failed completely, but not when it partly passed', async () => {
    const ctx = testContext({ hosts: [] });
    let ran = false;
    const etcd = layer('etcd', [check('etcd', 'e', async () => ((ran = true), passed('x')))], { requires: ['hosts'] });
    const all = await runSmoke([layer('hosts', [check('hosts', 'a', async () => failed('down')), check('hosts', 'b', async () => failed('down'))]), etcd], ctx);
    expect(ran).toBe(false);
    expect(all.layers[1]!.results).toHaveLength(1);
    expect(all.layers[1]!.results[0]).toMatchObject({ status: 'not-run', message: 'the hosts layer failed' });

    const partly = await runSmoke([layer('hosts', [check('hosts', 'a', async () => failed('down')), check('hosts', 'b', async () => passed('up'))]), etcd], testContext({ hosts: [] }));
    expect(ran).toBe(true);
    expect(partly.layers[1]!.status).toBe('passed');
  });

  it('runs checks of different hosts in parallel and checks of one host one after another', async () => {
    const ctx = testContext({ hosts: [] });
    const events: string[] = [];
    const gates = new Map<string, () => void>();
    const gated = (name: string, host?: string): Check =>
      check(
        'hosts',
        name,
        () =>
          new Promise<CheckOutcome>((resolve) => {
            events.push(`start ${name}`);
            gates.set(name, () => {
              events.push(`end ${name}`);
              resolve(passed(name));
            });
          }),
        host ? { host } : {},
      );
    const run = runSmoke([layer('hosts', [gated('h1-a', 'node1'), gated('h1-b', 'node1'), gated('h2-a', 'node2'), gated('cluster')])], ctx);
    await new Promise((r) => setTimeout(r, 10));
    // the first check of every group started together; node1's second waits for its first
    expect(events).toEqual(['start h1-a', 'start h2-a', 'start cluster']);
    gates.get('h2-a')!();
    gates.get('cluster')!();
    await new Promise((r) => setTimeout(r, 10));
    expect(events).not.toContain('start h1-b');
    gates.get('h1-a')!();
    await new Promise((r) => setTimeout(r, 10));
    expect(events.at(-1)).toBe('start h1-b');
    gates.get('h1-b')!();
    const report = await run;
    expect(report.layers[0]!.results.map((r) => r.id)).toEqual(['h1-a', 'h1-b', 'h2-a', 'cluster']);
  });

  it('runs stages in order: a later stage starts only after every check of the earlier one', async () => {
    const ctx = testContext({ hosts: [] });
    const events: string[] = [];
    const slow = (name: string, host: string, stage: number, ms: number): Check =>
      check('etcd', name, async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`end ${name}`);
        return passed(name);
      }, { host, stage });
    await runSmoke([layer('etcd', [slow('late', 'node2', 1, 1), slow('early-slow', 'node1', 0, 30), slow('early-fast', 'node2', 0, 1)])], ctx);
    expect(events.indexOf('start late')).toBeGreaterThan(events.indexOf('end early-slow'));
  });

  it('turns thrown errors into failed rows with evidence and NotRun into not-run rows', async () => {
    const ctx = testContext({ hosts: [] });
    const report = await runSmoke(
      [
        layer('hosts', [
          check('hosts', 'boom', async () => {
            throw new RemoteCommandError({ host: 'node1', command: 'systemctl is-active etcd', exitCode: 3, stderr: '', stdout: 'inactive' });
          }, { host: 'node1' }),
          check('hosts', 'skip', async () => {
            throw new NotRun('node2 is not reachable over ssh');
          }, { host: 'node2' }),
        ]),
      ],
      ctx,
    );
    const [boom, skip] = report.layers[0]!.results;
    expect(boom).toMatchObject({ status: 'failed', host: 'node1', evidence: [{ host: 'node1', command: 'systemctl is-active etcd', exitCode: 3, output: 'inactive' }] });
    expect(skip).toMatchObject({ status: 'not-run', message: 'node2 is not reachable over ssh' });
  });

  it('always runs the layer cleanup, and a failing cleanup adds a failed row', async () => {
    const ctx = testContext({ hosts: [] });
    let cleaned = 0;
    const report = await runSmoke(
      [
        layer('containerd', [check('containerd', 'x', async () => failed('nope'))], {
          cleanup: async () => {
            cleaned++;
            throw new Error('node1: containers left behind: kubi-verify-1');
          },
        }),
      ],
      ctx,
    );
    expect(cleaned).toBe(1);
    const rows = report.layers[0]!.results;
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      ['x', 'failed'],
      ['containerd.cleanup', 'failed'],
    ]);
    expect(rows[1]!.message).toBe('cleanup failed: node1: containers left behind: kubi-verify-1');
  });

  it('reports layers that were not selected as not run', async () => {
    const ctx = testContext({ hosts: [], options: { layers: ['etcd'] } });
    let ran = false;
    const report = await runSmoke([layer('hosts', [check('hosts', 'a', async () => ((ran = true), passed('x')))]), layer('etcd', [check('etcd', 'b', async () => passed('y'))])], ctx);
    expect(ran).toBe(false);
    expect(report.layers[0]!.results[0]).toMatchObject({ status: 'not-run', message: 'not selected' });
    expect(report.layers[1]!.status).toBe('passed');
  });

  it('a plan that throws becomes a failed layer row', async () => {
    const ctx = testContext({ hosts: [] });
    const report = await runSmoke([{ id: 'hosts', title: 'hosts', requires: [], plan: async () => Promise.reject(new Error('Cannot read inventory')) }], ctx);
    expect(report.layers[0]!.results[0]).toMatchObject({ id: 'hosts.layer', status: 'failed', message: 'cannot read inventory' });
  });
});

describe('layer verdicts', () => {
  const r = (status: CheckOutcome['status']) => ({ id: 'x', layer: 'hosts' as const, title: 'x', status, message: '', durationMs: 0 });
  it('layerStatus', () => {
    expect(layerStatus([r('passed'), r('warning')])).toBe('warning');
    expect(layerStatus([r('passed'), r('failed')])).toBe('failed');
    expect(layerStatus([r('not-run')])).toBe('not-run');
    expect(layerStatus([r('passed'), r('not-run')])).toBe('passed');
  });
  it('failedCompletely', () => {
    const l = (rs: ReturnType<typeof r>[]) => ({ id: 'hosts' as const, title: '', status: layerStatus(rs), durationMs: 0, results: rs });
    expect(failedCompletely(l([r('failed'), r('not-run')]))).toBe(true);
    expect(failedCompletely(l([r('failed'), r('warning')]))).toBe(false);
    expect(failedCompletely(l([r('not-run')]))).toBe(false);
  });
});
