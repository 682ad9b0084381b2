import { readdirSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

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

/**
 * Long explorations (10,000 schedules per historic scenario) live in `test/slow` and form
 * the `slow` project. It exists only when MMSIM_SLOW is set (`pnpm test:slow`), so the
 * default run, and CI, leave it out without skipping anything.
 */
const slow = process.env.MMSIM_SLOW
  ? [
      {
        extends: true as const,
        test: {
          name: 'slow',
          root: 'packages/scenarios',
          include: ['test/slow/**/*.slow.test.ts'],
        },
      },
    ]
  : [];

/**
 * Tests that open a page in headless Chromium live in `test/browser` and form their own
 * project (`report-browser`): part of every run, and failing, not skipped, when the
 * browser is missing (`.ci/run` installs it).
 */
const browser = [
  {
    extends: true as const,
    test: {
      name: 'report-browser',
      root: 'packages/report',
      include: ['test/browser/**/*.browser.test.ts'],
      testTimeout: 60_000,
    },
  },
];

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    // Explorations run thousands of schedules; on a loaded 2-core machine some take a minute
    // or more (invariants-sound's 2,000 corruptions took 79 s at load 30, dpor-footprints at
    // bound 2 up to 56 s). The limit only catches a hung test: speed is measured by `pnpm bench`.
    testTimeout: 120_000,
    reporters: ['default', './tools/vitest-summary-reporter.ts'],
    projects: [
      ...projects.map((dir) => ({
        extends: true,
        test: {
          name: dir.replace(/^packages\//, ''),
          root: dir,
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/slow/**', 'test/browser/**'],
        },
      })),
      ...slow,
      ...browser,
    ],
  },
});
