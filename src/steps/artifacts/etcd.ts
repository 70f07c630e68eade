/**
 * The etcd binaries for a host (etcd, etcdctl -> /usr/local/bin, 0755), from the verified
 * artifact of the inventory's version and the host's architecture.
 * WORK IN PROGRESS: waits for src/artifacts (resolveArtifact, extractBinaries).
 */
import { NotImplementedError } from '../../errors.js';
import type { StepContext } from '../../engine/types.js';
import type { DesiredFile } from '../lib/index.js';

export async function etcdBinaryFiles(_ctx: Pick<StepContext, 'cluster' | 'host' | 'facts'>): Promise<DesiredFile[]> {
  throw new NotImplementedError('installing etcd binaries (artifacts)');
}
