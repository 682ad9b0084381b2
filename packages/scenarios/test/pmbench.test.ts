import type { VariantName } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MIGRATE_SYNC } from '@mmsim/migrate';
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
