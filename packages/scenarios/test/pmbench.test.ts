import type { VariantName } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MIGRATE_SYNC } from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { pmbenchMigrate, runScenario } from '../src/index.js';

interface Figures {
  readonly ipis: number;
  readonly shootdowns: number;
  readonly pagesMigrated: number;
  readonly pagesPerSecond: number;
  readonly accesses: number;
}

function figures(variant: VariantName, mode: typeof MIGRATE_ASYNC | typeof MIGRATE_SYNC): Figures {
  const run = runScenario(pmbenchMigrate({ mode, pages: 128, threads: 4, roundTrips: 2 }), {
    variant,
    checkSteps: false,
  });
  expect(run.result?.status).toBe('completed');
  expect(run.violations).toEqual([]);
  return run.figures as unknown as Figures;
}

describe('pmbench-migrate: the series headline, v6.2 against v6.3', () => {
  for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as const) {
    const name = mode === MIGRATE_ASYNC ? 'MIGRATE_ASYNC' : 'MIGRATE_SYNC';
    it(`${name}: TLB-flush IPIs drop by far and pages migrated per virtual second rise`, () => {
      const old = figures('v6.2', mode);
      const now = figures('v6.3', mode);
      // 4 round-trip migrations of 128 pages, all of them done in both kernels.
      expect(old.pagesMigrated).toBe(512);
      expect(now.pagesMigrated).toBe(512);
      // 6.2: one shootdown per page to the 4 CPUs of the threads; 6.3: one per batch.
      expect(old.shootdowns).toBe(512);
      expect(old.ipis).toBe(2048);
      expect(now.shootdowns).toBe(4);
      expect(now.ipis).toBe(16);
      expect(1 - now.ipis / old.ipis).toBeGreaterThan(0.99); // the series: -99.1%
      expect(now.pagesPerSecond / old.pagesPerSecond).toBeGreaterThan(3); // the series: +291.7%
      expect(old.accesses).toBeGreaterThan(0);
      expect(now.accesses).toBeGreaterThan(0);
    });
  }

  it('is deterministic: the same configuration gives the same figures', () => {
    expect(figures('v6.3', MIGRATE_ASYNC)).toEqual(figures('v6.3', MIGRATE_ASYNC));
  });
});

/** A pmbench-migrate test of a fixed duration (`durationNs`): the figures of one kernel. */
function timedFigures(variant: VariantName, durationNs: number) {
  const run = runScenario(pmbenchMigrate({ pages: 128, threads: 4, durationNs }), {
    variant,
    checkSteps: false,
  });
  expect(run.result?.status).toBe('completed');
  expect(run.violations).toEqual([]);
  return run.figures as unknown as Figures & {
    readonly testNs: number;
    readonly ipisPerSecond: number;
    readonly migrationNs: number;
  };
}

describe('pmbench-migrate with durationNs: a test of fixed duration, as pmbench runs', () => {
  it('migratepages goes back and forth until the duration ends, so the faster kernel migrates more pages in it', () => {
    const durationNs = 2_000_000;
    const old = timedFigures('v6.2', durationNs);
    const now = timedFigures('v6.3', durationNs);
    for (const f of [old, now]) {
      // Whole calls of 128 pages, none started after the duration.
      expect(f.pagesMigrated % 128).toBe(0);
      expect(f.testNs).toBeGreaterThanOrEqual(durationNs);
      expect(f.testNs - f.testNs / (f.pagesMigrated / 128)).toBeLessThan(durationNs);
    }
    // The same test length, more calls for the faster kernel: each call is one batch
    // (one shootdown) in 6.3, so the flushes grow with the pages it fits in the test.
    expect(now.pagesMigrated).toBeGreaterThan(2 * old.pagesMigrated);
    expect(now.shootdowns).toBe(now.pagesMigrated / 128);
    expect(old.shootdowns).toBe(old.pagesMigrated);
    expect(now.ipisPerSecond).toBe((now.ipis * 1e9) / now.testNs);
    // IPIs per second of the test fall by less than IPIs per page: 1 - gain/512-ish.
    const perPage = 1 - now.ipis / now.pagesMigrated / (old.ipis / old.pagesMigrated);
    const perSecond = 1 - now.ipisPerSecond / old.ipisPerSecond;
    expect(perSecond).toBeLessThan(perPage);
  });

  it('without durationNs the test is still a fixed number of round trips', () => {
    const f = figures('v6.3', MIGRATE_SYNC);
    expect(f.pagesMigrated).toBe(512);
  });

  it('a bad duration, or a duration with roundTrips, is refused with a typed error', () => {
    for (const bad of [0, 999, 1.5, 2e9]) {
      expect(() => pmbenchMigrate({ durationNs: bad })).toThrow(
        /durationNs must be an integer in \[1000, 1000000000\]/,
      );
    }
    expect(() => pmbenchMigrate({ durationNs: 1_000_000, roundTrips: 2 })).toThrow(
      /durationNs and roundTrips .* give one of them, not both/,
    );
    expect(() => pmbenchMigrate({ durationNs: 1 })).toThrow(MmsimError);
    expect(pmbenchMigrate({ durationNs: 1000 }).name).toBe('pmbench-migrate');
    expect(pmbenchMigrate({ durationNs: 1e9 }).name).toBe('pmbench-migrate');
  });
});
