/** The external etcd cluster's steps, in playbook order. */
import type { AnyStep } from '../../engine/types.js';
import { etcdCertificatesStep } from './certificates.js';
import { etcdConfigure } from './configure.js';
import { etcdInstall } from './install.js';
import { etcdRoll } from './roll.js';
import { etcdStart } from './start.js';

export { etcdCertificatesStep, etcdConfigure, etcdInstall, etcdRoll, etcdStart };
export const etcdSteps: AnyStep[] = [etcdInstall, etcdCertificatesStep, etcdConfigure, etcdStart, etcdRoll];
