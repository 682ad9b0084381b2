import type { MigrateEngine } from '@mmsim/kernel';
import type { MigrateCore } from '@mmsim/migrate';
import { type Rmap, withRmapOverrides } from '@mmsim/rmap';
import { ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, movePagesLoop, runScenario } from '../src/index.js';

/*
 * The concurrency test of move_pages(2) (issue 13, section 4): the selftests' migration
 * shape (linux/tools/testing/selftests/mm/migration.c) as the built-in scenario move-pages-loop,
 * explored under random and PCT schedules.
 */

const SCHEDULES = 12;

describe('move-pages-loop: threads read and write while a thread calls move_pages in a loop', () => {
  for (const variant of ['v6.3', 'v6.11', 'v6.12'] as const) {
    for (const strategy of ['random', 'pct'] as const) {
      it(`${variant}: ${SCHEDULES} ${strategy} schedules, no corrupt read and no invariant violation`, () => {
        const result = exploreScenario(movePagesLoop(), {
          variant,
          strategy,
          schedules: SCHEDULES,
        });
        expect(result.message).toMatch(new RegExp(`^no finding in ${SCHEDULES}`));
        expect(result.found).toBe(false);
      });
    }
  }

  it('really moves every page each round through the system call, and checks what it reads', () => {
    const run = runScenario(builtinScenario('move-pages-loop'), {
      variant: 'v6.12',
      strategy: 'random',
      seed: 3,
    });
    expect(run.error).toBeNull();
    expect(run.result?.status).toBe('completed');
    const f = run.figures;
    expect(f.calls).toBe(4);
    // 4 private + 4 shared pages and the THP, moved in each of the 4 rounds.
    expect(f.notMigrated).toBe(0);
    expect(f.pagesMoved).toBe(4 * 9);
    expect(f.readsChecked).toBeGreaterThan(10);
  });

  it('catches a migration that leaves the PTEs on the old page (a corrupt read or a use after free)', () => {
    // remove_migration_ptes(src, src) after a successful move: the PTEs point to the freed src.
    const stale = (vm: Rmap): Rmap =>
      withRmapOverrides(vm, {
        *removeMigrationPtes(src, dst, locked): KernelGen {
          yield* vm.removeMigrationPtes(src, src, locked);
          void dst;
        },
      });
    const result = exploreScenario(movePagesLoop(), {
      variant: 'v6.12',
      strategy: 'random',
      schedules: 20,
      parts: { rmap: stale },
      shrink: false,
    });
    expect(result.found).toBe(true);
    expect(['crash', 'invariant']).toContain(result.kind);
  });

  describe('ENOMEM from move_pages(2) (do_move_pages_to_node returns migrate_pages -ENOMEM, mm/migrate.c 6.3)', () => {
    it('v6.3: an allocation of a target folio that fails makes the call fail with ENOMEM, which the check accepts', () => {
      const run = runScenario(movePagesLoop(), {
        variant: 'v6.3',
        strategy: 'random',
        seed: 3,
        faults: { 'migrate.alloc_migration_target': { calls: [1] } },
      });
      expect(run.error).toBeNull();
      expect(run.violations).toEqual([]);
      expect(run.result?.status).toBe('completed');
      expect(run.figures.enomem).toBe(1);
      expect(run.figures.calls).toBe(4);
    });

    it('v6.3: an ENOMEM with no failed allocation is still a failure of the call', () => {
      // A migrate engine whose migrate_pages() says -ENOMEM without allocating anything.
      const noMemory = (_deps: unknown, base: MigrateCore): MigrateEngine =>
        new Proxy(base, {
          get(target, key) {
            if (key === 'migratePages') {
              return function* (): KernelGen<{ rc: number }> {
                return { rc: -ENOMEM };
              };
            }
            const value = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }) as unknown as MigrateEngine;
      const run = runScenario(movePagesLoop(), {
        variant: 'v6.3',
        strategy: 'random',
        seed: 3,
        parts: { migrate: noMemory },
      });
      expect(run.error?.message).toMatch(/move_pages round 0 failed with errno 12/);
    });
  });
});
