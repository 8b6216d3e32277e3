import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Memory tests force a collection before measuring (globalThis.gc), so garbage left by
    // earlier work in the same process does not count against them.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
