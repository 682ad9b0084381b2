import {
  type Folio,
  folioGet,
  folioNid,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  hugetlbFreeHugePages,
  pageContent,
} from '@mmsim/folio';
import { newList, runAll, spawn } from '@mmsim/lru/test';
import { lockHolder } from '@mmsim/rmap/test';
import { Completion, ENOMEM, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  MR_MEMORY_HOTPLUG,
  type VariantName,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  countingAlloc,
  assertQuiescent as expectQuiescent,
  hugetlbfsFolio,
  type MigrateMachine as Machine,
  migrateToNode,
} from '../src/testing/index.js';

function hugetlbMachine(variant: VariantName = 'v6.3', supported = true, pool1 = 1): Machine {
  return buildMachine({
    variant,
    hugetlbPages: [2, pool1],
    hugepageMigrationSupported: supported,
  });
}

describe('hugetlb: migrate_hugetlbs() and unmap_and_move_huge_page() (mm/migrate.c, 6.3)', () => {
  /** The src lock is held elsewhere. [variant, mode, rc, attempts]. */
  const cases: Array<[VariantName, MigrateMode, string, number, number]> = [
    // force (pass > 2) and SYNC: sleeps at the fourth pass.
    ['v6.3', MIGRATE_SYNC, 'SYNC', 0, 4],
    // never for ASYNC or SYNC_LIGHT.
    ['v6.3', MIGRATE_ASYNC, 'ASYNC', 1, 10],
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT', 1, 10],
    ['v6.2', MIGRATE_SYNC, 'SYNC', 0, 4],
  ];
  for (const [variant, mode, what, rcWant, attempts] of cases) {
    it(`${variant} ${what}: src lock taken, force from pass 3: rc ${rcWant} after ${attempts} attempts`, () => {
      const m = hugetlbMachine(variant);
      const alloc = countingAlloc(m);
      const file = m.vm.createFile('hugetlbfs');
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      let hpage: Folio = -1;
      spawn(m, 'migrate', 0, function* (): KernelGen {
        hpage = hugetlbfsFolio(m, file, 0, 0, 3000);
        const list = newList(m);
        expect(m.core.isolateHugetlb(hpage, list)).toBe(true);
        ready.complete();
        yield* locked.wait();
        const { rc, stats } = yield* m.core.migratePages(
          list,
          alloc.fn,
          null,
          { nid: 1, thisNode: true },
          mode,
          MR_MEMORY_HOTPLUG,
        );
        expect(rc).toBe(rcWant);
        expect(alloc.calls).toHaveLength(attempts);
        // The unused destinations went back to node 1's pool each time.
        expect(hugetlbFreeHugePages(m.mem, 1)).toBe(rcWant === 0 ? 0 : 1);
        if (rc === 0) {
          expect(stats.nrSucceeded).toBe(512);
          expect(folioNid(m.mem, file.lookup(0)!)).toBe(1);
          expect(pageContent(m.mem, file.lookup(0)! + 511)).toBe(3511);
          expect(hugetlbFreeHugePages(m.mem, 0)).toBe(2); // src freed to its pool
        } else {
          expect(stats.nrFailedPages).toBe(512);
          expect(list.toArray()).toEqual([hpage]);
          yield* m.core.putbackMovablePages(list);
          expect(m.core.hugepageActivelist.toArray()).toEqual([hpage]);
        }
      });
      lockHolder(m, 1, () => hpage, ready, locked, 5_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('-ENOMEM (no free huge page on the target node) stops migrate_pages before the other folios', () => {
    const m = hugetlbMachine('v6.3', true, 0);
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { folios, list } = yield* anonIsolated(m, 2);
      const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
      m.core.isolateHugetlb(hpage, list);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(-ENOMEM);
      expect(stats).toMatchObject({ nrSucceeded: 0, nrFailedPages: 512 });
      expect(list.toArray()).toEqual([...folios, hpage]);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('hugepage migration unsupported: failed at once, to ret_folios; the rest migrates', () => {
    const m = hugetlbMachine('v6.3', false);
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, 2);
      const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
      m.core.isolateHugetlb(hpage, list);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(1);
      expect(stats).toMatchObject({ nrSucceeded: 2, nrFailedPages: 512 });
      expect(list.toArray()).toEqual([hpage]);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('a hugetlb folio freed under us succeeds and goes back to its pool', () => {
    const m = hugetlbMachine();
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
      const list = newList(m);
      m.core.isolateHugetlb(hpage, list);
      // Truncated meanwhile: the page cache lets go.
      m.vm.filemapRemoveFolio(file, hpage);
      folioPut(m.mem, hpage);
      expect(folioRefCount(m.mem, hpage)).toBe(1);
      const free0 = hugetlbFreeHugePages(m.mem, 0);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
      expect(stats.nrSucceeded).toBe(512);
      expect(hugetlbFreeHugePages(m.mem, 0)).toBe(free0 + 1);
      expect(hugetlbFreeHugePages(m.mem, 1)).toBe(1); // no destination was taken
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('an extra reference: -EAGAIN for 10 passes, counted once, back at the front of from', () => {
    const m = hugetlbMachine();
    const file = m.vm.createFile('hugetlbfs');
    const puts: Folio[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { folios, list } = yield* anonIsolated(m, 1);
      const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
      m.core.isolateHugetlb(hpage, list);
      folioGet(m.mem, hpage);
      const { rc, stats } = yield* m.core.migratePages(
        list,
        m.core.allocMigrationTarget,
        (dst) => {
          expect(folioTestHugetlb(m.mem, dst)).toBe(true);
          puts.push(dst);
          m.core.folioPutbackActiveHugetlb(dst);
        },
        { nid: 1, thisNode: true },
        MIGRATE_SYNC,
        MR_MEMORY_HOTPLUG,
      );
      expect(rc).toBe(1);
      expect(stats).toMatchObject({ nrSucceeded: 1, nrFailedPages: 512 });
      expect(puts).toHaveLength(10);
      expect(hugetlbFreeHugePages(m.mem, 1)).toBe(1);
      expect(list.toArray()).toEqual([hpage]);
      void folios;
      yield* m.core.putbackMovablePages(list);
      folioPut(m.mem, hpage);
    });
    runAll(m);
    expectQuiescent(m);
  });
});
