import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests run against the TypeScript sources; `npm test` also builds dist/ with tsc -b
// and type-checks the tests, so both paths are exercised.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@tsio\/executor$/, replacement: src('executor') },
      { find: /^@tsio\/completion-token$/, replacement: src('completion-token') },
      { find: /^@tsio\/net$/, replacement: src('net') },
      { find: /^@tsio\/websocket$/, replacement: src('websocket') },
      { find: /^tsio$/, replacement: src('tsio') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    pool: 'forks',
  },
});
