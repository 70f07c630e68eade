/** CNI steps: the pod subnet allocation (local), the plugins, the bridge config and routes. */
import type { AnyStep } from '../../engine/types.js';
import { cniConfigure } from './configure.js';
import { cniInstall } from './install.js';
import { cniSubnets } from './subnets.js';

export { cniSubnets, podSubnets, allocationFor, parseSavedSubnets, renderSavedSubnets, SUBNETS_FILE } from './subnets.js';
export { cniInstall } from './install.js';
export { cniConfigure, parseRoutes, ROUTES_UNIT } from './configure.js';
export const cniSteps: AnyStep[] = [cniSubnets, cniInstall, cniConfigure];
