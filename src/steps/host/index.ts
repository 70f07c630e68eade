/** Host preparation steps, in playbook order. */
import type { AnyStep } from '../../engine/types.js';
import { hostKernel } from './kernel.js';
import { hostPackages } from './packages.js';
import { hostPreflight } from './preflight.js';
import { hostRaspberryPi } from './raspberry-pi.js';
import { hostSwap } from './swap.js';

export { hostKernel, hostPackages, hostPreflight, hostRaspberryPi, hostSwap };
export const hostSteps: AnyStep[] = [hostPreflight, hostPackages, hostKernel, hostSwap, hostRaspberryPi];
