import { defineConfig } from 'vitest/config';

/**
 * Two projects:
 *  - unit: pure logic and local-only tests (fast, parallel);
 *  - hosts: tests against real hosts (real sshd instances in network namespaces, lab nodes).
 *    They share namespaces and the lab, so they run one file at a time, with long timeouts.
 * A test file that touches real hosts is named *.hosts.test.ts.
 */
export default defineConfig({
  test: {
    // .ci/run reads this JSON report to print a plain "N passed, N failed" closing line
    reporters: process.env.KUBI_TEST_JSON ? ['default', 'json'] : ['default'],
    ...(process.env.KUBI_TEST_JSON ? { outputFile: { json: process.env.KUBI_TEST_JSON } } : {}),
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.hosts.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'hosts',
          include: ['test/**/*.hosts.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
