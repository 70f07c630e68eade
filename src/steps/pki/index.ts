/** Workstation-side PKI steps. */
import type { AnyStep } from '../../engine/types.js';
import { pkiEtcd } from './etcd.js';

export { etcdCertificate, etcdCertificates, pkiEtcd } from './etcd.js';
export const pkiSteps: AnyStep[] = [pkiEtcd];
