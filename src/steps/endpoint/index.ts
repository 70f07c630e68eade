/** API endpoint steps: keepalived's package, then the mode's configuration (keepalived, kube-vip, none). */
import type { AnyStep } from '../../engine/types.js';
import { endpointConfigure } from './configure.js';
import { endpointInstall } from './install.js';

export { endpointInstall } from './install.js';
export { endpointConfigure, endpointDesired, planEndpoint, KEEPALIVED_UNIT } from './configure.js';
export { vipPlacement } from './host-network.js';
export const endpointSteps: AnyStep[] = [endpointInstall, endpointConfigure];
