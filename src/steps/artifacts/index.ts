/** Workstation-side artifact steps. */
import type { AnyStep } from '../../engine/types.js';
import { artifactsEtcd } from './etcd.js';

export { artifactsEtcd, etcdBinaryFiles } from './etcd.js';
export const artifactSteps: AnyStep[] = [artifactsEtcd];
