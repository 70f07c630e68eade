/** Every rendered systemd unit: sections and keys parse, Exec*= programs are absolute paths, the usual sections exist. */
import { describe, expect, it } from 'vitest';
import { parseUnit, splitExec } from './helpers/unit-file.js';
import { sampleInventory } from './helpers/sample.js';
import { renderAll } from './helpers/all-files.js';

const units = [
  ...renderAll(sampleInventory()),
  ...renderAll(sampleInventory({ versions: { containerd: '2.1.4' }, network: { cni: 'flannel' }, endpoint: { mode: 'kube-vip', vip: '10.77.0.100' } })),
].filter((f) => f.path.endsWith('.service'));
const byPath = new Map(units.map((u) => [u.path, u.content]));

describe('systemd units', () => {
  it('covers every unit kubi-provision writes', () => {
    expect([...byPath.keys()].sort()).toEqual(
      [
        '/etc/systemd/system/containerd.service',
        '/etc/systemd/system/etcd.service',
        '/etc/systemd/system/k3s-agent.service',
        '/etc/systemd/system/k3s.service',
        '/etc/systemd/system/kubi-pod-routes.service',
      ].sort(),
    );
  });

  it('the unit reader rejects broken units (control)', () => {
    expect(() => parseUnit('[Service]\nnot a key\n')).toThrow();
    expect(() => parseUnit('Key=1\n')).toThrow(/outside a section/);
    expect(() => parseUnit('[Unit]\n[Unit]\n')).toThrow(/twice/);
    expect(() => splitExec('/bin/x "open')).toThrow(/unterminated/);
  });

  it.each(units.map((u) => [u.path, u.content] as const))('%s parses, has [Unit] [Service] [Install], absolute Exec programs', (_path, content) => {
    const unit = parseUnit(content);
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Unit')!.some(([k]) => k === 'Description')).toBe(true);
    expect(unit.get('Install')).toContainEqual(['WantedBy', 'multi-user.target']);
    const execs = unit.get('Service')!.filter(([k]) => /^Exec(Start|StartPre|StartPost|Stop|StopPost|Reload)$/.test(k));
    expect(execs.length).toBeGreaterThan(0);
    for (const [key, value] of execs) {
      const argv = splitExec(value);
      expect(argv[0]!.startsWith('/'), `${key}=${value}`).toBe(true);
    }
    expect(unit.get('Service')!.filter(([k]) => k === 'ExecStart')).toHaveLength(1);
    for (const [key, value] of unit.get('Service')!.filter(([k]) => k === 'EnvironmentFile')) {
      expect(value.replace(/^-/, '').startsWith('/'), `${key}=${value}`).toBe(true);
    }
  });
});
