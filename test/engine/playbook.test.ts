import { describe, expect, it } from 'vitest';
import { PlaybookError, parsePlaybook, loadPlaybook, playbookPath } from '../../src/engine/playbook.js';
import { EXIT } from '../../src/errors.js';
import { StepRegistry, defaultRegistry } from '../../src/steps/registry.js';
import { fileStep, localStep, registryWith } from './helpers.js';

const registry = (): StepRegistry =>
  registryWith(
    fileStep('etcd.configure', '/etc/etcd/etcd.conf', () => 'x'),
    fileStep('etcd.install', '/usr/local/bin/etcd', () => 'x'),
    localStep('pki.generate', () => []),
  );

function errorOf(fn: () => unknown): PlaybookError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PlaybookError) return e;
    throw e;
  }
  throw new Error('expected a PlaybookError');
}

describe('parsePlaybook', () => {
  it('loads selectors, strategies and concurrency defaults', () => {
    const pb = parsePlaybook(
      `name: up
description: bring it up
steps:
  - id: pki.generate
    hosts: local
  - id: etcd.install
    roles: [etcd]
    concurrency: 3
  - id: etcd.configure
    names: [node1, node2]
    strategy: serial
`,
      'up.yaml',
      registry(),
    );
    expect(pb.name).toBe('up');
    expect(pb.steps.map((s) => [s.id, s.selector, s.strategy, s.concurrency])).toEqual([
      ['pki.generate', { kind: 'local' }, 'parallel', 10],
      ['etcd.install', { kind: 'roles', roles: ['etcd'] }, 'parallel', 3],
      ['etcd.configure', { kind: 'names', names: ['node1', 'node2'] }, 'serial', 1],
    ]);
  });

  it('rejects an unknown step id at load time, naming file, line and step, with did-you-mean (exit 2)', () => {
    const e = errorOf(() => parsePlaybook('name: up\nsteps:\n  - id: etcd.confgure\n    hosts: all\n', 'playbooks/up.yaml', registry()));
    expect(e.exitCode).toBe(EXIT.invalidInput);
    expect(e.code).toBe('playbook-invalid');
    expect(e.message).toBe('playbooks/up.yaml:3:9: steps[0].id: unknown step etcd.confgure (did you mean etcd.configure?)');
  });

  it('reports every problem at once', () => {
    const e = errorOf(() =>
      parsePlaybook(
        `name: up
steps:
  - id: nope.nothing
    hosts: all
  - id: pki.generate
    hosts: all
  - id: etcd.install
    hosts: local
  - id: etcd.configure
    roles: [etcd]
    hosts: all
  - id: etcd.configure
    roles: [etcd]
`,
        'x.yaml',
        registry(),
      ),
    );
    expect(e.problems).toEqual([
      'x.yaml:3:9: steps[0].id: unknown step nope.nothing',
      'x.yaml:5:5: steps[1]: pki.generate runs on the workstation: use hosts: local',
      'x.yaml:8:12: steps[2].hosts: etcd.install runs on hosts: select them with hosts: all, roles or names',
      'x.yaml:9:5: steps[3]: give exactly one of hosts (all|local), roles or names',
      'x.yaml:12:9: steps[4].id: step etcd.configure appears twice',
    ]);
    expect(e.message).toMatch(/and 4 more problems/);
  });

  it('rejects unknown keys, bad roles and bad strategies with their position', () => {
    const e = errorOf(() => parsePlaybook('name: up\nsteps:\n  - id: etcd.install\n    role: [etcd]\n    strategy: rolling\n', 'y.yaml', registry()));
    expect(e.problems.join('\n')).toMatch(/^y\.yaml:5:15: steps\[0\]\.strategy: /m);
    expect(e.problems.join('\n')).toMatch(/^y\.yaml:3:5: steps\[0\]: unrecognized key: "role"/m);
  });

  it('rejects YAML syntax errors and alias bombs', () => {
    expect(errorOf(() => parsePlaybook('name: [up\n', 'z.yaml', registry())).message).toMatch(/^z\.yaml:\d+:\d+: /);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`), 'name: up', 'steps: []'].join('\n');
    expect(errorOf(() => parsePlaybook(bomb, 'bomb.yaml', registry())).message).toBe('bomb.yaml:1:1: excessive alias count indicates a resource exhaustion attack');
  });

  it('the shipped playbooks/up.yaml loads against the built-in registry', async () => {
    await import('../../src/steps/index.js');
    const pb = await loadPlaybook('up', defaultRegistry);
    expect(pb.name).toBe('up');
    expect(pb.file).toBe(playbookPath('up'));
    for (const s of pb.steps) expect(defaultRegistry.has(s.id)).toBe(true);
  });

  it('a missing playbook file is a usage error', async () => {
    await expect(loadPlaybook('/nonexistent/dir/pb.yaml', registry())).rejects.toMatchObject({ code: 'playbook-missing', exitCode: EXIT.invalidInput });
  });
});

describe('StepRegistry', () => {
  it('validates ids, refuses two different steps with one id, suggests on unknown ids', () => {
    const r = new StepRegistry();
    const s = fileStep('etcd.configure', '/x', () => 'x');
    r.register(s, s); // the same object twice is fine
    expect(r.ids()).toEqual(['etcd.configure']);
    expect(() => r.register(fileStep('etcd.configure', '/y', () => 'y'))).toThrow(/two different steps are registered as etcd\.configure/);
    for (const bad of ['etcd', 'Etcd.configure', 'etcd.configure.x', 'etcd._x', 'etcd.a--b', '.x', 'etcd.con figure']) {
      expect(() => r.register(fileStep(bad, '/z', () => 'z')), bad).toThrow(/invalid step id/);
    }
    r.register(fileStep('host.kernel-modules', '/z', () => 'z'));
    expect(() => r.get('etcd.configur')).toThrow('unknown step etcd.configur (did you mean etcd.configure?)');
  });
});
