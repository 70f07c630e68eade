/**
 * Kept only so the existing import in src/cli/commands/run.ts keeps working: the atomic-write
 * module is src/fs-atomic.ts. New code imports that one; delete this file once run.ts does too.
 */
export { ensureDir, writeFileAtomic } from '../fs-atomic.js';
