/**
 * The usual shape of a step in two calls: describe the desired state (directories, files,
 * deletions, services), then `observeDesired` in check (ONE round trip) and `planDesired` in plan
 * (pure). A converged host costs one read-only script per step.
 */
import type { RemoteHost } from '../../transport/types.js';
import type { Change } from '../../engine/types.js';
import { planDeletes, planDirs, planFiles, type DesiredDir, type DesiredFile } from './files.js';
import { observe, type Observation, type ObserveRequest } from './observe.js';
import { planServices, serviceObserveRequest, type DesiredService } from './services.js';

export interface DesiredState {
  dirs?: readonly DesiredDir[];
  files?: readonly DesiredFile[];
  deletes?: readonly string[];
  services?: readonly DesiredService[];
}

/** What to observe for a desired state: every path, content of non-secret files (for diffs), units. */
export function observeRequestFor(d: DesiredState): ObserveRequest {
  const svc = serviceObserveRequest(d.services ?? []);
  const files = [
    ...(d.dirs ?? []).map((x) => x.path),
    ...(d.files ?? []).map((x) => x.path),
    ...(d.deletes ?? []),
    ...svc.files,
  ];
  const content = [...(d.files ?? []).filter((f) => !f.secret).map((f) => f.path), ...svc.content];
  return { files: [...new Set(files)], content: [...new Set(content)], units: [...new Set(svc.units)] };
}

export function observeDesired(remote: RemoteHost, d: DesiredState): Promise<Observation> {
  return observe(remote, observeRequestFor(d));
}

/** Pure: directories, files, deletions, then services (restarts follow the file changes). */
export function planDesired(d: DesiredState, obs: Observation): Change[] {
  const changes = [...planDirs(d.dirs ?? [], obs), ...planFiles(d.files ?? [], obs), ...planDeletes(d.deletes ?? [], obs)];
  return [...changes, ...planServices(d.services ?? [], obs, changes)];
}
