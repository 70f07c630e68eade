/**
 * Developer convenience for the smoke tests only: the unit and hosts projects without the global
 * dist/ build (which fails while other work in the shared tree does not compile). CI uses
 * vitest.config.ts. Run: npx vitest run --config test/smoke/vitest.dev.config.ts [--project hosts]
 */
import { defineConfig } from 'vitest/config';

const root = new URL('../..', import.meta.url).pathname;

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', root, include: ['test/smoke/**/*.test.ts'], exclude: ['test/**/*.hosts.test.ts', 'node_modules/**'], testTimeout: 20_000 } },
      { test: { name: 'hosts', root, include: ['test/smoke/**/*.hosts.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
    ],
  },
});
