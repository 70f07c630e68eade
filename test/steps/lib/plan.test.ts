import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Observation, ObservedFile } from '../../../src/steps/lib/observe.js';
import { planDeletes, planDirs, planFiles } from '../../../src/steps/lib/files.js';
import { fingerprintOf, isUnitFile, planServices, serviceObserveRequest } from '../../../src/steps/lib/services.js';
import { observeRequestFor, planDesired } from '../../../src/steps/lib/desired.js';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
function obsOf(files: Partial<ObservedFile & { text: string }>[], units: [string, string, string][] = []): Observation {
  const o: Observation = { files: new Map(), units: new Map() };
  for (const f of files) {
    const content = f.text !== undefined ? Buffer.from(f.text) : f.content;
    const entry: ObservedFile = {
      path: f.path!,
      type: f.type ?? 'file',
      ...(f.type === 'missing' ? {} : { mode: f.mode ?? 0o644, owner: f.owner ?? 'root', group: f.group ?? 'root' }),
      ...(content ? { sha256: sha(content), size: content.length, content } : {}),
    };
    o.files.set(entry.path, entry);
  }
  for (const [unit, enabled, active] of units) o.units.set(unit, { unit, enabled, active });
  return o;
}

describe('planFiles', () => {
  it('creates missing files with before: null, updates with the previous text, chmods when only mode/owner differ', () => {
    const obs = obsOf([
      { path: '/new', type: 'missing' },
      { path: '/same', text: 'x\n' },
      { path: '/changed', text: 'old\n' },
      { path: '/mode', text: 'm\n', mode: 0o600 },
      { path: '/owner', text: 'o\n', group: 'root' },
    ]);
    const changes = planFiles(
      [
        { path: '/new', content: 'n\n', mode: 0o644 },
        { path: '/same', content: 'x\n', mode: 0o644 },
        { path: '/changed', content: 'new\n', mode: 0o644 },
        { path: '/mode', content: 'm\n', mode: 0o644 },
        { path: '/owner', content: 'o\n', mode: 0o644, group: 'etcd' },
      ],
      obs,
    );
    expect(changes).toEqual([
      { kind: 'file', path: '/new', content: 'n\n', mode: 0o644, action: 'create', before: null },
      { kind: 'file', path: '/changed', content: 'new\n', mode: 0o644, action: 'update', before: 'old\n' },
      { kind: 'file', path: '/mode', content: 'm\n', mode: 0o644, action: 'chmod' },
      { kind: 'file', path: '/owner', content: 'o\n', mode: 0o644, group: 'etcd', action: 'chmod' },
    ]);
  });

  it('never fills before for secret files, nor for binary content', () => {
    const obs = obsOf([
      { path: '/key', text: 'OLD-SECRET-KEY' },
      { path: '/bin', content: Buffer.from([0, 1, 2]) },
      { path: '/newkey', type: 'missing' },
    ]);
    const changes = planFiles(
      [
        { path: '/key', content: 'NEW-SECRET-KEY', mode: 0o600, secret: true },
        { path: '/bin', content: Buffer.from([3]), mode: 0o755 },
        { path: '/newkey', content: 'K', mode: 0o600, secret: true },
      ],
      obs,
    );
    expect(changes.map((c) => ('before' in c ? c.before : 'absent'))).toEqual(['absent', 'absent', 'absent']);
    expect(JSON.stringify(changes)).not.toContain('OLD-SECRET-KEY');
  });

  it('refuses a directory where a file belongs, and requires every path to be observed', () => {
    expect(() => planFiles([{ path: '/d', content: '', mode: 0o644 }], obsOf([{ path: '/d', type: 'dir' }]))).toThrow(/\/d exists but is a directory/);
    expect(() => planFiles([{ path: '/x', content: '', mode: 0o644 }], obsOf([]))).toThrow(/\/x was not observed/);
  });

  it('plans directories and deletions', () => {
    const obs = obsOf([
      { path: '/d1', type: 'missing' },
      { path: '/d2', type: 'dir', mode: 0o755 },
      { path: '/d3', type: 'dir', mode: 0o700 },
      { path: '/gone', type: 'missing' },
      { path: '/there', text: 'x' },
    ]);
    expect(
      planDirs(
        [
          { path: '/d1', mode: 0o700 },
          { path: '/d2', mode: 0o755 },
          { path: '/d3', mode: 0o700, owner: 'etcd' },
        ],
        obs,
      ),
    ).toEqual([
      { kind: 'mkdir', path: '/d1', mode: 0o700 },
      { kind: 'mkdir', path: '/d3', mode: 0o700, owner: 'etcd' },
    ]);
    expect(planDeletes(['/gone', '/there'], obs)).toEqual([{ kind: 'delete', path: '/there' }]);
  });
});

describe('planServices', () => {
  const conf = { path: '/etc/etcd/etcd.conf', content: 'a=1\n', mode: 0o644 };
  const svc = { unit: 'etcd.service', inputs: { files: [conf], extra: ['etcd v3.5.21'] } };
  const fp = fingerprintOf(svc)!;
  const fpPath = '/var/lib/kubi-provision/fingerprints/etcd.service';

  it('enables and starts a new service in one change, recording the fingerprint', () => {
    const obs = obsOf([{ path: fpPath, type: 'missing' }], [['etcd.service', 'disabled', 'inactive']]);
    expect(planServices([svc], obs)).toEqual([{ kind: 'service', unit: 'etcd.service', action: 'enable-now', fingerprint: { path: fpPath, value: fp } }]);
  });

  it('is quiet when running, enabled and the fingerprint matches', () => {
    const obs = obsOf([{ path: fpPath, text: fp + '\n' }], [['etcd.service', 'enabled', 'active']]);
    expect(planServices([svc], obs)).toEqual([]);
  });

  it('restarts (or reloads) when the inputs changed, even if the config write happened in an earlier, interrupted run', () => {
    const obs = obsOf([{ path: fpPath, text: 'stale\n' }], [['etcd.service', 'enabled', 'active']]);
    expect(planServices([svc], obs)).toEqual([{ kind: 'service', unit: 'etcd.service', action: 'restart', fingerprint: { path: fpPath, value: fp } }]);
    expect(planServices([{ ...svc, onChange: 'reload' }], obs)[0]).toMatchObject({ action: 'reload' });
  });

  it('daemon-reloads once when a unit file changes; stops and disables when asked', () => {
    const obs = obsOf([], [
      ['a.service', 'enabled', 'active'],
      ['b.service', 'enabled', 'active'],
    ]);
    const changes = planServices(
      [
        { unit: 'a.service', enabled: false, running: false },
        { unit: 'b.service' },
      ],
      obs,
      [{ kind: 'file', path: '/etc/systemd/system/a.service', content: '', mode: 0o644, action: 'update' }],
    );
    expect(changes).toEqual([
      { kind: 'service', unit: 'systemd', action: 'daemon-reload' },
      { kind: 'service', unit: 'a.service', action: 'disable' },
      { kind: 'service', unit: 'a.service', action: 'stop' },
    ]);
  });

  it('fingerprints are stable under input order and sensitive to content, mode and extras', () => {
    const other = { path: '/etc/b', content: 'b', mode: 0o600 };
    const f1 = fingerprintOf({ unit: 'x', inputs: { files: [conf, other], extra: ['v1', 'v2'] } });
    expect(fingerprintOf({ unit: 'x', inputs: { files: [other, conf], extra: ['v2', 'v1'] } })).toBe(f1);
    expect(fingerprintOf({ unit: 'x', inputs: { files: [conf, { ...other, mode: 0o644 }], extra: ['v1', 'v2'] } })).not.toBe(f1);
    expect(fingerprintOf({ unit: 'x', inputs: { files: [conf, { ...other, content: 'c' }], extra: ['v1', 'v2'] } })).not.toBe(f1);
    expect(fingerprintOf({ unit: 'x', inputs: { files: [conf, other], extra: ['v1'] } })).not.toBe(f1);
    expect(fingerprintOf({ unit: 'x' })).toBeNull();
    expect(serviceObserveRequest([svc, { unit: 'plain.service' }])).toEqual({ files: [fpPath], content: [fpPath], units: ['etcd.service', 'plain.service'] });
    expect(isUnitFile('/etc/systemd/system/etcd.service.d/override.conf')).toBe(true);
    expect(isUnitFile('/etc/etcd/etcd.conf')).toBe(false);
  });
});

describe('desired state', () => {
  it('observes every path once, with content only for non-secret files and fingerprints', () => {
    const d = {
      dirs: [{ path: '/etc/etcd', mode: 0o755 }],
      files: [
        { path: '/etc/etcd/etcd.conf', content: 'a', mode: 0o644 },
        { path: '/etc/etcd/key.pem', content: 'k', mode: 0o600, secret: true },
      ],
      deletes: ['/etc/etcd/old'],
      services: [{ unit: 'etcd.service', inputs: { files: [{ path: '/etc/etcd/etcd.conf', content: 'a', mode: 0o644 }] } }],
    };
    expect(observeRequestFor(d)).toEqual({
      files: ['/etc/etcd', '/etc/etcd/etcd.conf', '/etc/etcd/key.pem', '/etc/etcd/old', '/var/lib/kubi-provision/fingerprints/etcd.service'],
      content: ['/etc/etcd/etcd.conf', '/var/lib/kubi-provision/fingerprints/etcd.service'],
      units: ['etcd.service'],
    });
    const obs = obsOf(
      [
        { path: '/etc/etcd', type: 'missing' },
        { path: '/etc/etcd/etcd.conf', type: 'missing' },
        { path: '/etc/etcd/key.pem', type: 'missing' },
        { path: '/etc/etcd/old', type: 'missing' },
        { path: '/var/lib/kubi-provision/fingerprints/etcd.service', type: 'missing' },
      ],
      [['etcd.service', 'not-found', 'inactive']],
    );
    expect(planDesired(d, obs).map((c) => c.kind)).toEqual(['mkdir', 'file', 'file', 'service']);
  });
});
