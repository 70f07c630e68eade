/** src/cli/progress.ts: engine events -> listr2 tasks, rendered by the plain renderer into a buffer. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';
import { runPlaybook } from '../../src/engine/run.js';
import { KubiError } from '../../src/errors.js';
import { cluster, fakeHosts, fileStep, playbookOf, registryWith, threeNodes } from './helpers.js';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let buf = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream: w, text: () => buf.replace(/\x1b\[[0-9;]*m/g, '') };
}

describe('progress adapter', () => {
  it('shows a task per step and a line per host with its state, in plain mode', async () => {
    const inv = threeNodes();
    const hosts = fakeHosts(inv);
    hosts.get('node2')!.before = () => {
      throw new KubiError('boom', 'disk on fire');
    };
    hosts.get('node3')!.writeFile('/etc/demo/b', 'node3');
    hosts.get('node3')!.dirs.set('/etc/demo', { mode: 0o755, owner: 'root', group: 'root' });
    const a = fileStep('demo.alpha', '/etc/demo/b', (h) => h);
    const b = fileStep('demo.beta', '/etc/demo/c', (h) => h);
    const out = sink();
    const progress = createProgress({ mode: 'plain', stream: out.stream });
    const res = await runPlaybook({
      playbook: playbookOf(registryWith(a, b), 'name: up\nsteps:\n  - id: demo.alpha\n    names: [node1, node2, node3]\n    strategy: serial\n  - id: demo.beta\n    hosts: all\n'),
      cluster: cluster(inv, 'apply'),
      remotes: hosts,
      onEvent: progress.onEvent,
    });
    await progress.done();
    expect(res.ok).toBe(false);
    const text = out.text();
    if (process.env.SHOW_PROGRESS) console.log(text);
    expect(text).toContain('demo.alpha: Write /etc/demo/b');
    expect(text).toMatch(/node1: changed: 2 changes \(\d+ms\)/);
    expect(text).toMatch(/FAILED\] node2 \(\d+ms\) \[FAILED: node2: disk on fire\]/);
    // serial: node2 starts only after node1 finished
    expect(text.indexOf('STARTED] node2')).toBeGreaterThan(text.indexOf('COMPLETED] node1'));
    expect(text).toMatch(/node3: skipped: the run stopped before this host started/);
    expect(text).toMatch(/demo\.beta: not run/);
  });

  it('is silent in quiet mode', async () => {
    const out = sink();
    const p = createProgress({ mode: 'quiet', stream: out.stream });
    p.onEvent({ type: 'run-start', mode: 'plan', playbook: 'x', steps: [] });
    p.onEvent({ type: 'run-end', ok: true, durationMs: 1 });
    await p.done();
    expect(out.text()).toBe('');
  });
});
