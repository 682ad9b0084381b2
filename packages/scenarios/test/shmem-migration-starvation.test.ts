import { VARIANTS } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import {
  exploreScenario,
  MIGRATION_RETRY_BOUND,
  runScenario,
  shmemMigrationStarvation,
} from '../src/index.js';

const variants = Object.keys(VARIANTS) as (keyof typeof VARIANTS)[];

describe('shmem-migration-starvation (Dev Jain, 2024)', () => {
  it.each(variants)(
    '%s: a reader faulting in the pte_none window starves move_pages past the bound',
    (variant) => {
      const r = exploreScenario(shmemMigrationStarvation(), {
        variant,
        strategy: 'random',
        schedules: 100,
        seed: 1,
      });
      expect(r.kind).toBe('invariant');
      expect(r.finding?.message).toMatch(new RegExp(`${MIGRATION_RETRY_BOUND}.*calls in a row`));
    },
  );

  it.each(variants)('%s: without the window no move_pages call ever fails', (variant) => {
    for (const strategy of ['random', 'pct'] as const) {
      const r = exploreScenario(shmemMigrationStarvation({ window: false }), {
        variant,
        strategy,
        schedules: 20,
        seed: 1,
      });
      expect({ variant, strategy, found: r.found }).toEqual({ variant, strategy, found: false });
    }
  });

  it('with a loose bound every invariant holds through the window (the cleared PTE still counts), and some move_pages calls fail', () => {
    let failed = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const run = runScenario(shmemMigrationStarvation({ bound: 100 }), {
        seed,
        strategy: 'random',
      });
      expect(run.error).toBeNull();
      expect(run.violations).toEqual([]);
      failed += run.figures.failed ?? 0;
    }
    expect(failed).toBeGreaterThan(0);
  });

  it('records no history: not a built-in of mmsim check, which would report it for every variant', () => {
    expect(shmemMigrationStarvation().history).toBeUndefined();
  });
});
