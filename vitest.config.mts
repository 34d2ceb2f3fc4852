import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One process per file: a native crash fails that file, not the run.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests import the built package (dist/, as it ships); load it through
    // Node itself rather than Vite's transform so CommonJS stays CommonJS.
    server: { deps: { external: [/\/dist\//, /node_modules/] } },
  },
});
