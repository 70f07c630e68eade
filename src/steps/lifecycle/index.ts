/** Lifecycle steps: etcd membership in `up` (etcd.members) and the `reset` playbook's steps. */
import type { AnyStep } from '../../engine/types.js';
import { etcdMembersStep } from './etcd-members.js';
import { resetFiles, resetNetwork, resetServices } from './reset.js';

export { etcdMembersStep, resetFiles, resetNetwork, resetServices };
export const lifecycleSteps: AnyStep[] = [etcdMembersStep, resetServices, resetNetwork, resetFiles];
