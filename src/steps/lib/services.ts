/**
 * Pure planning of systemd units: enable/start when they are not, restart (or reload) only when
 * their inputs changed. "Inputs changed" is decided by a fingerprint (sha256 of the input files'
 * paths, checksums and modes, plus extra strings such as a binary version) stored on the host
 * and written only AFTER the restart succeeded, so an interrupted run still restarts next time.
 */
import { createHash } from 'node:crypto';
import type { Change } from '../../engine/types.js';
import { contentSha256, type DesiredFile } from './files.js';
import type { Observation } from './observe.js';

export const FINGERPRINT_DIR = '/var/lib/kubi-provision/fingerprints';

export interface DesiredService {
  /** e.g. `etcd.service` */
  unit: string;
  /** default true */
  enabled?: boolean;
  /** default true */
  running?: boolean;
  /** what the running service depends on: a change of any restarts it */
  inputs?: { files?: readonly Pick<DesiredFile, 'path' | 'content' | 'mode' | 'sha256'>[]; extra?: readonly string[] };
  /** how to pick up changed inputs (default restart) */
  onChange?: 'restart' | 'reload';
  /** default FINGERPRINT_DIR/<unit> */
  fingerprintPath?: string;
}

/** Units whose state `enable` already satisfies. */
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated']);

/** A path that is a systemd unit file (changing it needs daemon-reload). */
export function isUnitFile(path: string): boolean {
  return /\/systemd\/system\/.+/.test(path) || /\.(service|socket|timer|mount|target|path)$/.test(path) || /\.service\.d\/[^/]+\.conf$/.test(path);
}

export function fingerprintPathOf(s: DesiredService): string {
  return s.fingerprintPath ?? `${FINGERPRINT_DIR}/${s.unit}`;
}

/** The fingerprint of a service's inputs (stable under input order). */
export function fingerprintOf(s: DesiredService): string | null {
  const files = s.inputs?.files ?? [];
  const extra = s.inputs?.extra ?? [];
  if (files.length === 0 && extra.length === 0) return null;
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) h.update(`file\0${f.path}\0${contentSha256(f)}\0${(f.mode & 0o7777).toString(8)}\n`);
  for (const x of [...extra].sort()) h.update(`extra\0${x}\n`);
  return h.digest('hex');
}

/** Paths and units planServices needs observed (fingerprint files with content, the units). */
export function serviceObserveRequest(services: readonly DesiredService[]): { files: string[]; content: string[]; units: string[] } {
  const fps = services.filter((s) => fingerprintOf(s) !== null).map(fingerprintPathOf);
  return { files: fps, content: fps, units: services.map((s) => s.unit) };
}

/**
 * Service changes: one daemon-reload when any planned file change is a unit file; then per
 * service: enable / disable, start / stop, or restart|reload when running and the inputs'
 * fingerprint differs from the recorded one. `enable` + `start` combine into `enable-now`.
 */
export function planServices(desired: readonly DesiredService[], obs: Observation, plannedChanges: readonly Change[] = []): Change[] {
  const changes: Change[] = [];
  if (plannedChanges.some((c) => (c.kind === 'file' || c.kind === 'delete') && isUnitFile(c.path))) {
    changes.push({ kind: 'service', unit: 'systemd', action: 'daemon-reload' });
  }
  for (const s of desired) {
    const unit = obs.units.get(s.unit) ?? { unit: s.unit, enabled: 'not-found', active: 'inactive' };
    const wantEnabled = s.enabled ?? true;
    const wantRunning = s.running ?? true;
    const fp = fingerprintOf(s);
    const fpPath = fingerprintPathOf(s);
    const recorded = obs.files.get(fpPath)?.content?.toString('utf8').trim();
    const fingerprint = fp !== null && recorded !== fp ? { fingerprint: { path: fpPath, value: fp } } : {};
    const isEnabled = ENABLED_STATES.has(unit.enabled);
    const isActive = unit.active === 'active' || unit.active === 'reloading' || unit.active === 'activating';

    const needEnable = wantEnabled && !isEnabled;
    const needDisable = !wantEnabled && unit.enabled === 'enabled';
    const needStart = wantRunning && !isActive;
    if (needEnable && needStart) {
      changes.push({ kind: 'service', unit: s.unit, action: 'enable-now', ...fingerprint });
      continue;
    }
    if (needEnable) changes.push({ kind: 'service', unit: s.unit, action: 'enable' });
    if (needDisable) changes.push({ kind: 'service', unit: s.unit, action: 'disable' });
    if (needStart) changes.push({ kind: 'service', unit: s.unit, action: 'start', ...fingerprint });
    else if (!wantRunning && isActive) changes.push({ kind: 'service', unit: s.unit, action: 'stop' });
    else if (wantRunning && 'fingerprint' in fingerprint) {
      changes.push({ kind: 'service', unit: s.unit, action: s.onChange ?? 'restart', ...fingerprint });
    }
  }
  return changes;
}
