/** Public API of the smoke checks behind `kubi-provision verify`. */
export {
  type Check,
  type CheckOutcome,
  type CheckResult,
  type CheckStatus,
  type Layer,
  type LayerId,
  LAYER_IDS,
  NotRun,
  retryCheck,
  retryUntil,
  RetryTimeoutError,
} from './check.js';
export { createSmokeContext, DEFAULT_ETCD_PATHS, DEFAULT_SMOKE_IMAGE, defaultSmokeOptions, type SmokeContext, type SmokeOptions } from './context.js';
export type { Evidence } from './evidence.js';
export { runSmoke, type LayerReport, type SmokeReport } from './runner.js';
export { renderJson, renderText } from './report.js';
export { connectForVerify, type VerifyConnections } from './connect.js';
export { SMOKE_LAYERS } from './layers/index.js';
