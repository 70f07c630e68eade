/** k3s steps: the binary preflight and the token (local), install, configure, start servers then agents. */
import type { AnyStep } from '../../engine/types.js';
import { k3sArtifact } from './artifact.js';
import { k3sConfigure } from './configure.js';
import { k3sInstall } from './install.js';
import { k3sStartAgents, k3sStartServers } from './start.js';
import { k3sToken } from './token.js';

export { k3sArtifact, k3sBinary, missingK3sError, missingTitle } from './artifact.js';
export { k3sToken, loadK3sToken, readToken, TOKEN_FILE } from './token.js';
export { k3sInstall, planK3sInstall } from './install.js';
export { k3sConfigure } from './configure.js';
export { k3sStartServers, k3sStartAgents, evaluateReadiness } from './start.js';
export const k3sSteps: AnyStep[] = [k3sArtifact, k3sToken, k3sInstall, k3sConfigure, k3sStartServers, k3sStartAgents];
