import { describe, expect, it } from 'vitest';
import { applyChanges } from '../../src/engine/apply.js';
import { applyLocalChanges } from '../../src/engine/apply-local.js';
import type { Change } from '../../src/engine/types.js';
import { FakeHost } from './fake-host.js';

describe('applyChanges (generic executor)', () => {
  it('applies directories, then files/deletes, then commands/scripts, then services with one daemon-reload', async () => {
    const h = new FakeHost('node1');
    h.addUnit('a.service');
    h.addUnit('b.service', { enabled: 'enabled', active: 'active' });
    h.writeFile('/etc/old.conf', 'old');
    h.writeFile('/etc/mode.conf', 'm', 0o600);
    const changes: Change[] = [
      { kind: 'service', unit: 'systemd', action: 'daemon-reload' },
      { kind: 'service', unit: 'a.service', action: 'enable-now' },
      { kind: 'command', title: 'say yes', argv: ['true'] },
      { kind: 'file', path: '/etc/app/app.conf', content: 'x=1\n', mode: 0o640, owner: 'root', group: 'app', action: 'create' },
      { kind: 'service', unit: 'systemd', action: 'daemon-reload' },
      { kind: 'service', unit: 'b.service', action: 'restart', fingerprint: { path: '/var/lib/kubi-provision/fingerprints/b.service', value: 'abc123' } },
      { kind: 'delete', path: '/etc/old.conf' },
      { kind: 'file', path: '/etc/mode.conf', content: 'm', mode: 0o644, group: 'app', action: 'chmod' },
      { kind: 'mkdir', path: '/etc/app', mode: 0o750, group: 'app' },
    ];
    await applyChanges(h, changes);
    expect(h.calls.map((c) => `${c.kind} ${c.what}`)).toEqual([
      'exec install -d -m 0750 -g app -- /etc/app',
      'putFile /etc/app/app.conf',
      'exec rm -f -- /etc/old.conf',
      'exec chmod 0644 -- /etc/mode.conf',
      'exec chown :app -- /etc/mode.conf',
      'exec true',
      'exec systemctl daemon-reload',
      'exec systemctl enable --now a.service',
      'exec systemctl restart b.service',
      'script set -eu',
    ]);
    expect(h.calls.every((c) => c.mutating)).toBe(true);
    expect(h.files.get('/etc/app/app.conf')).toMatchObject({ mode: 0o640, group: 'app' });
    expect(h.files.has('/etc/old.conf')).toBe(false);
    expect(h.files.get('/etc/mode.conf')).toMatchObject({ mode: 0o644, group: 'app' });
    expect(h.units.get('a.service')).toEqual({ enabled: 'enabled', active: 'active' });
    expect(h.text('/var/lib/kubi-provision/fingerprints/b.service')).toBe('abc123\n');
  });

  it('does not record a fingerprint when the restart fails', async () => {
    const h = new FakeHost('node1'); // no such unit: systemctl fails
    await expect(
      applyChanges(h, [{ kind: 'service', unit: 'ghost.service', action: 'restart', fingerprint: { path: '/fp', value: 'v' } }]),
    ).rejects.toMatchObject({ code: 'remote-command', host: 'node1' });
    expect(h.files.has('/fp')).toBe(false);
  });

  it('refuses action changes (they need the step own apply)', async () => {
    const h = new FakeHost('node1');
    await expect(applyChanges(h, [{ kind: 'action', title: 'add etcd member' }])).rejects.toThrow(/cannot perform "add etcd member"/);
    expect(h.calls).toEqual([]);
  });
});

describe('applyLocalChanges', () => {
  it('writes under the state directory only', async () => {
    const { mkdtemp, readFile, stat } = await import('node:fs/promises');
    const os = await import('node:os');
    const dir = await mkdtemp(`${os.tmpdir()}/kubi-apply-local-`);
    await applyLocalChanges(dir, [
      { kind: 'mkdir', path: 'pki', mode: 0o700 },
      { kind: 'file', path: 'pki/ca.key', content: 'KEY', mode: 0o600, secret: true, action: 'create' },
    ]);
    expect(await readFile(`${dir}/pki/ca.key`, 'utf8')).toBe('KEY');
    expect((await stat(`${dir}/pki/ca.key`)).mode & 0o777).toBe(0o600);
    expect((await stat(`${dir}/pki`)).mode & 0o777).toBe(0o700);
    await expect(applyLocalChanges(dir, [{ kind: 'file', path: '../escape', content: 'x', mode: 0o600, action: 'create' }])).rejects.toThrow(/leaves the state directory/);
    await expect(applyLocalChanges(dir, [{ kind: 'command', title: 'x', argv: ['true'] }])).rejects.toThrow(/cannot apply a command change/);
  });
});
