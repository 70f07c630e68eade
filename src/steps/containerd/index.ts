/** containerd steps: install the binaries, configure and run the daemon. */
import type { AnyStep } from '../../engine/types.js';
import { containerdConfigure } from './configure.js';
import { containerdInstall } from './install.js';

export { containerdDesired, crictlVersionFor, CONTAINERD_UNIT } from './desired.js';
export { containerdInstall } from './install.js';
export { containerdConfigure, containerdProbeScript, evaluateContainerdProbe } from './configure.js';
export const containerdSteps: AnyStep[] = [containerdInstall, containerdConfigure];
