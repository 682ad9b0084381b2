import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * One vitest project per package, run from the repository root against source: the
 * `source` export condition points every `@mmsim/*` import at `src/index.ts`, so no build
 * is needed before the tests.
 */
const packages = readdirSync(new URL('./packages', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    reporters: ['default', './tools/vitest-summary-reporter.ts'],
    projects: packages.map((name) => ({
      extends: true,
      test: {
        name,
        root: `packages/${name}`,
        include: ['test/**/*.test.ts'],
      },
    })),
  },
});
