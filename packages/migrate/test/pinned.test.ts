import {
  type Folio,
  folioGet,
  folioMapcount,
  folioNid,
  folioPut,
  folioRefCount,
} from '@mmsim/folio';
import { isolateFolios, newList, nrIsolated, runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  newSpy,
  spyingRmap,
} from '../src/testing/index.js';

/**
 * try_to_migrate calls on the folio with an extra reference, per variant and mode: the
 * unmap works and the refcount check of every move pass fails; the folio stays unmapped
 * and locked between move passes and is restored once they run out.
 */
const PASSES: Array<[VariantName, MigrateMode, string, number]> = [
  // 6.3 sync: unmapped once in the async batch (3 move passes), once alone (7 move passes).
  ['v6.3', MIGRATE_SYNC, 'MIGRATE_SYNC', 2],
  // 6.3 async: unmapped once, 10 move passes.
  ['v6.3', MIGRATE_ASYNC, 'MIGRATE_ASYNC', 1],
  // 6.2: unmap_and_move redoes everything in each of its 10 passes.
  ['v6.2', MIGRATE_SYNC, 'MIGRATE_SYNC', 10],
  // 6.3-rc1: one batch in the caller's mode, unmapped once, 10 move passes.
  ['v6.3-rc1', MIGRATE_SYNC, 'MIGRATE_SYNC', 1],
];

describe('a folio with an extra reference fails with -EAGAIN through every pass', () => {
  for (const [variant, mode, modeName, unmaps] of PASSES) {
    it(`${variant} ${modeName}: an extra (GUP FOLL_GET) reference`, () => {
      const spy = newSpy();
      const m = buildMachine({ variant, wrapRmap: (vm) => spyingRmap(vm, spy) });
      const { vm, mem, core } = m;
      const mm = vm.createProcess('p');
      const addr = mapAnon(m, mm, 8);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        yield* writePages(m, mm, addr, 8, (i) => 700 + i);
        const folios = foliosOf(m, mm, addr, 8);
        const pinned = folios[3]!;
        folioGet(mem, pinned); // someone's extra reference, e.g. get_user_pages(FOLL_GET)
        const baseline = folios.map((f) => folioRefCount(mem, f));
        const list = newList(m);
        yield* isolateFolios(m, folios, list);
        expect(nrIsolated(m)).toBe(8);
        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(1);
        expect(stats.nrSucceeded).toBe(7);
        expect(stats.nrFailedPages).toBe(1);
        // The failed folio is back on `from`, alone.
        expect(list.toArray()).toEqual([pinned]);
        expect(spy.tryToMigrate.get(pinned)).toBe(unmaps);
        // Each unmap was undone once (remove_migration_ptes(src, src)), never pointed at a dst.
        const undos = spy.removeMigrationPtes.filter(([s]) => s === pinned);
        expect(undos).toEqual(Array.from({ length: unmaps }, () => [pinned, pinned]));
        yield* core.putbackMovablePages(list);
        expect(list.isEmpty()).toBe(true);
        // Nothing leaks: the pinned folio is where it was, mapped, with its references.
        expect(foliosOf(m, mm, addr, 8)[3]).toBe(pinned);
        expect(folioNid(mem, pinned)).toBe(0);
        expect(folioMapcount(mem, pinned)).toBe(1);
        expect(folioRefCount(mem, pinned)).toBe(baseline[3]);
        expect(vm.lookupPte(mm, addr + 3 * PAGE_SIZE).kind).toBe('present');
        for (let i = 0; i < 8; i++)
          expect(yield* vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(700 + i);
        yield* vm.userWrite(mm, addr + 3 * PAGE_SIZE, 1234);
        expect(yield* vm.userRead(mm, addr + 3 * PAGE_SIZE)).toBe(1234);
        folioPut(mem, pinned);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  for (const [variant, mode, modeName] of PASSES) {
    it(`${variant} ${modeName}: a FOLL_PIN on an exclusive anon page stops try_to_migrate`, () => {
      const spy = newSpy();
      const m = buildMachine({ variant, wrapRmap: (vm) => spyingRmap(vm, spy) });
      const { vm, mem, core } = m;
      const mm = vm.createProcess('p');
      const addr = mapAnon(m, mm, 4);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        yield* writePages(m, mm, addr, 4, (i) => 10 + i);
        const pfn = yield* vm.pinUserPage(mm, addr + PAGE_SIZE, true);
        const folios = foliosOf(m, mm, addr, 4);
        const pinned: Folio = folios[1]!;
        expect(pfn).toBe(pinned);
        const baseline = folioRefCount(mem, pinned);
        const list = newList(m);
        yield* isolateFolios(m, folios, list);
        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(1);
        expect(stats.nrSucceeded).toBe(3);
        expect(stats.nrFailedPages).toBe(1);
        expect(list.toArray()).toEqual([pinned]);
        // Every pass tried to unmap it and found it still mapped: 10 passes in all.
        expect(spy.tryToMigrate.get(pinned)).toBe(10);
        yield* core.putbackMovablePages(list);
        expect(folioRefCount(mem, pinned)).toBe(baseline);
        expect(m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_ANON)).toBe(0);
        expect(vm.lookupPte(mm, addr + PAGE_SIZE)).toMatchObject({ kind: 'present', pfn: pinned });
        yield* vm.unpinUserPage(mm, pinned);
        for (let i = 0; i < 4; i++)
          expect(yield* vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(10 + i);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});
