import { formatFinding } from '@mmsim/explore';
import type { VariantName } from '@mmsim/kernel';
import { exploreScenario, pmbenchMigrate, rfcLockOrder, runScenario } from '@mmsim/scenarios';

export interface PmbenchFigures {
  readonly variant: VariantName;
  readonly ipis: number;
  readonly shootdowns: number;
  readonly pagesMigrated: number;
  /** Pages migrated per virtual second spent in migrate_pages. */
  readonly pagesPerSecond: number;
  readonly clean: boolean;
}

/** One run of `pmbench-migrate` in `variant` (MIGRATE_SYNC, the migratepages(8) path). */
export function pmbench(variant: VariantName): PmbenchFigures {
  const run = runScenario(pmbenchMigrate(), { variant });
  const f = run.figures;
  return {
    variant,
    ipis: f.ipis ?? 0,
    shootdowns: f.shootdowns ?? 0,
    pagesMigrated: f.pagesMigrated ?? 0,
    pagesPerSecond: f.pagesPerSecond ?? 0,
    clean:
      run.error === null &&
      run.result?.status === 'completed' &&
      run.violations.length === 0 &&
      run.inversions.length === 0,
  };
}

export interface DeadlockHunt {
  readonly variant: VariantName;
  readonly found: boolean;
  readonly schedules: number;
  readonly report: string;
  readonly replay: string | null;
}

/**
 * Explores `rfc-lock-order` (the RFC reviewers' question) with PCT: a deadlock in the RFC's
 * variant, none in 6.3. The dependency-checker inversion is turned off here so that the
 * search runs to the deadlock itself.
 */
export function hunt(variant: VariantName, schedules: number): DeadlockHunt {
  const r = exploreScenario(rfcLockOrder(), {
    variant,
    strategy: 'pct',
    schedules,
    seed: 1,
    disable: ['page-lock-inversion'],
  });
  return {
    variant,
    found: r.found,
    schedules: r.schedules,
    // The header and the cycle; the numbered steps are for `mmsim replay`.
    report: r.finding === null ? '' : formatFinding(r.finding).split('\nreplay:')[0]!,
    replay: r.replay,
  };
}
