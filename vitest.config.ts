import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * One vitest project per package (and per tool), run from the repository root against source: the
 * `source` export condition points every `@mmsim/*` import at `src/index.ts`, so no build
 * is needed before the tests.
 */
const dirsIn = (parent: string) =>
  readdirSync(new URL(`./${parent}`, import.meta.url), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${parent}/${entry.name}`);
const projects = [...dirsIn('packages'), ...dirsIn('tools')];

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    reporters: ['default', './tools/vitest-summary-reporter.ts'],
    projects: projects.map((dir) => ({
      extends: true,
      test: {
        name: dir.replace(/^packages\//, ''),
        root: dir,
        include: ['test/**/*.test.ts'],
      },
    })),
  },
});
