import { folioAlloc, folioNid, folioSetFlag, PG_lru } from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import { type KernelGen, type MmsimError, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MIGRATE_SYNC, MR_SYSCALL, type VariantName } from '../src/index.js';
import { anonIsolated, createMigrateMachine } from '../src/testing/index.js';

/**
 * `MigrateCore.migratePages` is a plain call that checks its arguments and hands back the
 * engine's generator (no generator of its own in the chain a migration resumes through).
 * What a caller sees must not change: a misuse surfaces at the first `next()`, not at the
 * call, and a `yield*` gets the engine's result with its statistics.
 */
describe('migrate_pages() through a plain call', () => {
  it('a misuse inside a task throws at the first next(), not when the call is made', () => {
    const m = createMigrateMachine();
    const seen: string[] = [];
    spawn(m, 'caller', 0, function* (): KernelGen {
      const { list, folios } = yield* anonIsolated(m, 2);
      // A folio that was never isolated (PG_lru set) on the list: a contract violation.
      const stray = folioAlloc(m.mem, 0, 0);
      folioSetFlag(m.mem, stray, PG_lru);
      list.addTail(stray);
      const gen = m.core.migratePages(
        list,
        m.core.allocMigrationTarget,
        null,
        { nid: 1 },
        MIGRATE_SYNC,
        MR_SYSCALL,
      );
      seen.push('made');
      try {
        gen.next();
      } catch (e) {
        seen.push((e as MmsimError).code);
      }
      // Nothing moved: the list is as it was.
      expect(list.toArray()).toEqual([...folios, stray]);
      expect(folios.map((f) => folioNid(m.mem, f))).toEqual([0, 0]);
      list.del(stray);
      // Put the two isolated folios through a good call, so the machine ends quiescent.
      const { rc } = yield* m.core.migratePages(
        list,
        m.core.allocMigrationTarget,
        null,
        { nid: 1, thisNode: true },
        MIGRATE_ASYNC,
        MR_SYSCALL,
      );
      seen.push(`rc ${rc}`);
    });
    runAll(m);
    expect(seen).toEqual(['made', 'CONTRACT_VIOLATION', 'rc 0']);
  });

  for (const variant of ['v6.2', 'v6.3'] as VariantName[]) {
    it(`${variant}: the result and its statistics come from the engine, frozen`, () => {
      const m = createMigrateMachine({ variant });
      let result: { rc: number; stats: object } | null = null;
      let moved: number[] = [];
      spawn(m, 'caller', 0, function* (): KernelGen {
        const { list, folios } = yield* anonIsolated(m, 3);
        result = yield* m.core.migratePages(
          list,
          m.core.allocMigrationTarget,
          null,
          { nid: 1, thisNode: true },
          MIGRATE_SYNC,
          MR_SYSCALL,
        );
        moved = folios;
        expect(list.size).toBe(0);
      });
      runAll(m);
      expect(moved).toHaveLength(3);
      expect(result).not.toBeNull();
      const r = result as unknown as { rc: number; stats: Record<string, number> };
      expect(r.rc).toBe(0);
      expect(r.stats).toEqual({
        nrSucceeded: 3,
        nrFailedPages: 0,
        nrThpSucceeded: 0,
        nrThpFailed: 0,
        nrThpSplit: 0,
        nrSplit: 0,
      });
      expect(Object.isFrozen(r.stats)).toBe(true);
      expect(m.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(3);
    });
  }
});
