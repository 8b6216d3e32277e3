import { defineConfig } from 'vitest/config';

// Integration tests run in Node and start real servers: BIND and dnsdist from Debian as the
// upstream, `wrangler dev` (workerd) as the resolver, and clients this project did not write.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // wrangler dev's local HTTPS certificate is self-signed.
    env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
  },
});
