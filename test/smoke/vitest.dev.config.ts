/**
 * Developer convenience for the smoke tests only: the unit project without the global dist/ build
 * (which fails while other work in the shared tree does not compile). CI uses vitest.config.ts.
 * Run: npx vitest run --config test/smoke/vitest.dev.config.ts
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/smoke/**/*.test.ts'],
    exclude: ['test/**/*.hosts.test.ts', 'node_modules/**'],
    testTimeout: 20_000,
  },
});
