import { folioAlloc } from '@mmsim/folio';
import { mutableAddressSpace } from '@mmsim/rmap/internal';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  instantiateScenario,
  runScenario,
  SCENARIO_NAMES,
  SHMEM_THP_CACHED_WHOLE,
  shmemThpMigrate,
} from '../src/index.js';
import { searchSchedules } from './helpers.js';

const SCHEDULES = 8;

describe('shmem-thp-migrate: a shmem THP migrates whole under two writers', () => {
  it('is a built-in scenario', () => {
    expect(SCENARIO_NAMES).toContain('shmem-thp-migrate');
    expect(builtinScenario('shmem-thp-migrate', { pages: 4 }).name).toBe('shmem-thp-migrate');
  });

  it(`v6.3: ${SCHEDULES} random and ${SCHEDULES} PCT schedules, every invariant holds`, () => {
    for (const strategy of ['random', 'pct'] as const) {
      const found = searchSchedules(shmemThpMigrate(), 'v6.3', { strategy, schedules: SCHEDULES });
      expect(found.first?.what ?? null).toBeNull();
    }
  });

  it('really migrates the THP whole, every round', () => {
    const run = runScenario(shmemThpMigrate(), { variant: 'v6.3', strategy: 'random', seed: 1 });
    expect(run.result?.status).toBe('completed');
    expect(run.figures.thpMigrated).toBe(3);
    expect(run.figures.migrated).toBe(3 * 512);
    expect(run.figures.failed).toBe(0);
  });

  it(`${SHMEM_THP_CACHED_WHOLE} accepts the whole folio in its slots and reports a wrong slot`, () => {
    const instance = instantiateScenario(shmemThpMigrate({ migrations: 1 }), {
      variant: 'v6.3',
      strategy: 'in-order',
    });
    expect(instance.kernel.run().status).toBe('completed');
    const inv = instance.invariants.find((i) => i.name === SHMEM_THP_CACHED_WHOLE)!;
    expect(inv.check('end')).toBeNull();
    const file = instance.kernel.files.find((f) => f.shmem && f.nrPages > 0)!;
    const head = file.lookup(0)!;
    // The first slot of the range holds another folio while the others hold the THP.
    const other = folioAlloc(instance.kernel.mem, 0, 0);
    (mutableAddressSpace(file).pages as Map<number, number>).set(0, other);
    expect(inv.check('end')).toMatch(
      new RegExp(
        `^i_pages\\[1\\] holds folio ${head}, but the slot of its first index 0 holds ${other}`,
      ),
    );
  });
});
