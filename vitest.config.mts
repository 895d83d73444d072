import { defineConfig } from 'vitest/config';

// The end-to-end project (real Presto and Trino, minutes and gigabytes of downloads on first use)
// runs only when asked for: `npm run test:e2e` (vitest run --project e2e) or HMS_E2E=1.
const e2eRequested = process.env.HMS_E2E === '1'
  || process.argv.some((arg, i) => arg === '--project=e2e' || (arg === '--project' && process.argv[i + 1] === 'e2e'));

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One real stack for every integration file: start it once, run files one after another.
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      ...(e2eRequested ? [{
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The same real stack as the integration tests; engines run one after another.
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 900_000,
          // Installing an engine from a cold cache downloads up to 2 GB.
          hookTimeout: 2_400_000,
        },
      }] : []),
    ],
  },
});
