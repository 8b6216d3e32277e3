import { defineWorkersConfig } from '@cloudflare/vitest-pool-workers/config';

// Unit and worker tests run inside workerd, the production runtime, with the bindings of
// wrangler.toml. Integration tests that start real servers live in vitest.integration.config.ts.
export default defineWorkersConfig({
  test: {
    // dns-packet and its helpers are CommonJS: pre-bundle them so workerd can import them.
    deps: { optimizer: { ssr: { enabled: true, include: ['dns-packet', 'ipaddr.js'] } } },
    include: ['src/**/*.test.ts', 'test/worker/**/*.test.ts'],
    poolOptions: {
      workers: {
        singleWorker: true,
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            FUZZ_REQUESTS: process.env.FUZZ_REQUESTS ?? '',
            H2_FUZZ_SESSIONS: process.env.H2_FUZZ_SESSIONS ?? '',
          },
        },
      },
    },
  },
});
