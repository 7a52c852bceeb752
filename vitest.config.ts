import { defineConfig } from 'vitest/config';

// Unit tests run in node; browser tests drive Debian's chromium through playwright-core
// against the production build (dist/), which `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
