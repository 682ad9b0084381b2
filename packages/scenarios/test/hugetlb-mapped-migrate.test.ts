import { folioGet, folioTestHugetlb } from '@mmsim/folio';
import { type Rmap, withRmapOverrides } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, hugetlbMappedMigrate, runScenario } from '../src/index.js';
import { searchSchedules } from './helpers.js';

const SCHEDULES = 150;

describe('hugetlb-mapped-migrate: mapped hugetlb folios migrate under writers, clean in v6.3', () => {
  it('really migrates mapped hugetlb folios (private, COW-shared, shared) and checks what it reads', () => {
    const run = runScenario(builtinScenario('hugetlb-mapped-migrate'), {
      variant: 'v6.3',
      strategy: 'random',
      seed: 1,
    });
    expect(run.error).toBeNull();
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    // At least the private and the shared 2 MiB folio, each of the two rounds.
    expect(run.figures.movePagesMigrated).toBeGreaterThanOrEqual(4 * 512);
    expect(run.figures.readsChecked).toBeGreaterThan(10);
  });

  for (const strategy of ['random', 'pct'] as const) {
    it(`${SCHEDULES} ${strategy} schedules: no deadlock, no lost write, every invariant holds`, () => {
      const found = searchSchedules(hugetlbMappedMigrate(), 'v6.3', {
        strategy,
        schedules: SCHEDULES,
      });
      expect(found.first?.what ?? null).toBeNull();
    }, 120_000); // 150 schedules: several seconds, more on a loaded machine
  }
});

/** An `Rmap` whose remove_migration_ptes does nothing for the migrated hugetlb folio. */
function forgetfulRmap(vm: Rmap): Rmap {
  return withRmapOverrides(vm, {
    *removeMigrationPtes(_src, _dst, _locked): KernelGen {},
  });
}

describe('hugetlb-mapped-migrate catches a broken restore', () => {
  it('an rmap that does not restore the huge entries leaves hugetlb migration entries behind', () => {
    const found = searchSchedules(hugetlbMappedMigrate(), 'v6.3', {
      schedules: 5,
      scenarioOptions: { parts: { rmap: forgetfulRmap } },
    });
    expect(found.first?.what ?? '').toMatch(/migration|lost|USE_AFTER_FREE|mapcount|refcount/);
  });
});

/** An `Rmap` that leaks one reference on every hugetlb destination it restores. */
function leakyRmap(vm: Rmap, mem: Parameters<typeof folioGet>[0]): Rmap {
  return withRmapOverrides(vm, {
    *removeMigrationPtes(src, dst, locked): KernelGen {
      yield* vm.removeMigrationPtes(src, dst, locked);
      if (src !== dst && folioTestHugetlb(mem, dst)) folioGet(mem, dst);
    },
  });
}

describe('hugetlb-mapped-migrate: the end-of-run checks see a leaked hugetlb reference', () => {
  it('frames-conserved reports the refcount a mapped hugetlb folio should not have', () => {
    const found = searchSchedules(hugetlbMappedMigrate(), 'v6.3', {
      schedules: 3,
      scenarioOptions: { parts: { rmap: (vm, ctx) => leakyRmap(vm, ctx.mem) } },
    });
    expect(found.first?.what ?? '').toMatch(/frames-conserved.*reference leaked/);
  });
});
