/**
 * Registers every built-in step. Importing this module fills the default registry, so the CLI
 * imports it once before loading a playbook. To add a step: export it from its module under
 * src/steps/<component>/, import it here and add it to `builtinSteps` (in playbook order by habit).
 */
import type { AnyStep } from '../engine/types.js';
import { registerSteps } from './registry.js';
import { hostSteps } from './host/index.js';
import { pkiSteps } from './pki/index.js';
import { artifactSteps } from './artifacts/index.js';
import { etcdSteps } from './etcd/index.js';
import { containerdSteps } from './containerd/index.js';
import { cniSteps } from './cni/index.js';
import { endpointSteps } from './endpoint/index.js';
import { k3sSteps } from './k3s/index.js';
import { lifecycleSteps } from './lifecycle/index.js';

export const builtinSteps: AnyStep[] = [
  ...hostSteps,
  ...pkiSteps,
  ...artifactSteps,
  ...etcdSteps,
  ...containerdSteps,
  ...cniSteps,
  ...endpointSteps,
  ...k3sSteps,
  ...lifecycleSteps,
  // e.g. ...hostSteps, ...pkiSteps, ...etcdSteps (each component module exports its list)
];

registerSteps(...builtinSteps);
