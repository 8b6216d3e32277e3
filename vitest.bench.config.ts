import { defineWorkersConfig } from '@cloudflare/vitest-pool-workers/config';

// `npm run bench:cpu`: the CPU microbenchmark inside workerd (bench/workerd-cpu.bench.ts).
export default defineWorkersConfig({
  test: {
    deps: { optimizer: { ssr: { enabled: true, include: ['dns-packet', 'ipaddr.js'] } } },
    include: ['bench/**/*.bench.ts'],
    poolOptions: {
      workers: { singleWorker: true, wrangler: { configPath: './wrangler.toml' } },
    },
  },
});
