/**
 * Developer convenience for the reliability suite only: its unit and hosts projects without the
 * global dist/ build (run `npm run build` yourself first; CI uses vitest.config.ts).
 * Run: npx vitest run --config test/reliability/vitest.dev.config.ts --no-file-parallelism [--project rel-hosts] [file]
 */
import { defineConfig } from 'vitest/config';

const root = new URL('../..', import.meta.url).pathname;

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'rel-unit', root, include: ['test/reliability/**/*.test.ts'], exclude: ['test/**/*.hosts.test.ts', 'node_modules/**'], testTimeout: 60_000 } },
      {
        test: {
          name: 'rel-hosts',
          root,
          include: ['test/reliability/**/*.hosts.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
