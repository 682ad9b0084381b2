import {
  type Folio,
  folioGet,
  folioNid,
  folioPut,
  folioRefCount,
  folioTestHugetlb,
  folioTestHugetlbTemporary,
  hugetlbBuddyAllocEvents,
  hugetlbFreeHugePages,
  hugetlbMeminfo,
  hugetlbNodeCounters,
  hugetlbSetNrOvercommitHugePages,
  nodeFreePages,
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
  type MigrateReason,
  MR_COMPACTION,
  MR_MEMORY_HOTPLUG,
  MR_SYSCALL,
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

function hugetlbMachine(
  variant: VariantName = 'v6.3',
  supported = true,
  pool1 = 1,
  nodes?: readonly number[],
): Machine {
  return buildMachine({
    variant,
    hugetlbPages: [2, pool1],
    hugepageMigrationSupported: supported,
    ...(nodes === undefined ? {} : { nodes }),
  });
}

/** The sysfs counters of node `nid`: [nr_hugepages, free_hugepages, surplus_hugepages]. */
function pool(m: Machine, nid: number): [number, number, number] {
  const c = hugetlbNodeCounters(m.mem, nid);
  return [c.nr_hugepages, c.free_hugepages, c.surplus_hugepages];
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

  it('migrate_pages rejects a hugetlb folio still marked migratable, after anon folios, and takes it once isolated', () => {
    const m = hugetlbMachine('v6.3');
    const file = m.vm.createFile('hugetlbfs');
    const errors: unknown[] = [];
    spawn(m, 'migrate', 0, function* (): KernelGen {
      // Two isolated anon folios first: the check reads every folio of the list.
      const { list } = yield* anonIsolated(m, 2);
      const hpage = hugetlbfsFolio(m, file, 0, 0, 100);
      // A caller bug: on the list without isolate_hugetlb (still migratable, active).
      m.core.hugepageActivelist.moveToTail(hpage, list);
      try {
        yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_MEMORY_HOTPLUG);
      } catch (e) {
        errors.push(e);
      }
      expect(folioNid(m.mem, hpage)).toBe(0); // nothing migrated
      list.moveToTail(hpage, m.core.hugepageActivelist);
      // Isolated properly, it is checked alike and migrated with the anon folios
      // (migrate_hugetlbs runs: the check saw a hugetlb folio).
      expect(m.core.isolateHugetlb(hpage, list)).toBe(true);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
      expect(stats).toMatchObject({ nrSucceeded: 2 + 512, nrFailedPages: 0 });
      expect(folioNid(m.mem, file.lookup(0)!)).toBe(1);
    });
    runAll(m);
    expect(errors).toHaveLength(1);
    expect((errors[0] as { code?: string }).code).toBe('CONTRACT_VIOLATION');
    expect((errors[0] as Error).message).toMatch(/hugetlb folio still marked migratable/);
    expectQuiescent(m);
  });

  for (const variant of ['v6.2', 'v6.3'] as const) {
    it(`${variant}: to a node whose pool is empty, a temporary page from its buddy; the pool page moves there`, () => {
      const m = hugetlbMachine(variant, true, 0);
      const file = m.vm.createFile('hugetlbfs');
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, 2);
        const hpage = hugetlbfsFolio(m, file, 0, 0, 100);
        m.core.isolateHugetlb(hpage, list);
        expect(pool(m, 0)).toEqual([2, 1, 0]);
        expect(pool(m, 1)).toEqual([0, 0, 0]);
        const buddy = [nodeFreePages(m.mem, 0), nodeFreePages(m.mem, 1)];
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
        expect(rc).toBe(0);
        expect(stats).toMatchObject({ nrSucceeded: 2 + 512, nrFailedPages: 0 });
        const dst = file.lookup(0)!;
        expect(folioNid(m.mem, dst)).toBe(1);
        expect(pageContent(m.mem, dst + 511)).toBe(611);
        // The temporary mark went to the source, which left node 0's pool for its buddy;
        // the destination stays, a persistent page of node 1 (move_hugetlb_state,
        // free_huge_page). Nothing was surplus, so no surplus count moved.
        expect(folioTestHugetlbTemporary(m.mem, dst)).toBe(false);
        expect(pool(m, 0)).toEqual([1, 1, 0]);
        expect(pool(m, 1)).toEqual([1, 0, 0]);
        expect(hugetlbMeminfo(m.mem)).toEqual({
          HugePages_Total: 2,
          HugePages_Free: 1,
          HugePages_Rsvd: 0,
          HugePages_Surp: 0,
        });
        expect(hugetlbBuddyAllocEvents(m.mem)).toEqual({
          htlb_buddy_alloc_success: 1,
          htlb_buddy_alloc_fail: 0,
        });
        // Node 0's buddy got the source's 512 frames back, and the two anon pages that
        // moved to node 1; node 1's buddy gave the destination and the two anon pages.
        expect(nodeFreePages(m.mem, 0)).toBe(buddy[0]! + 512 + 2);
        expect(nodeFreePages(m.mem, 1)).toBe(buddy[1]! - 512 - 2);
        expect(m.core.hugepageActivelist.toArray()).toEqual([dst]);
        // Truncated, the destination goes to node 1's pool like any persistent page.
        m.vm.filemapRemoveFolio(file, dst);
        m.core.hugepageActivelist.del(dst);
        folioPut(m.mem, dst);
        expect(pool(m, 1)).toEqual([1, 1, 0]);
      });
      runAll(m);
      expectQuiescent(m);
    });

    it(`${variant}: no free huge page and no order-9 block on the target node: -ENOMEM, nothing leaks`, () => {
      // Node 1 has 256 pages: no order-9 block in its buddy, ever.
      const m = hugetlbMachine(variant, true, 0, [8192, 256]);
      const file = m.vm.createFile('hugetlbfs');
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { folios, list } = yield* anonIsolated(m, 2);
        const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
        m.core.isolateHugetlb(hpage, list);
        const buddy1 = nodeFreePages(m.mem, 1);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
        expect(rc).toBe(-ENOMEM);
        if (variant === 'v6.3') {
          // migrate_hugetlbs() runs first and returns -ENOMEM: migrate_pages() stops
          // before the batches, the anon folios stay on the list (e5bfff8b10e4).
          expect(stats).toMatchObject({ nrSucceeded: 0, nrFailedPages: 512 });
          expect(list.toArray()).toEqual([...folios, hpage]);
          expect(nodeFreePages(m.mem, 1)).toBe(buddy1);
        } else {
          // 6.2 goes down the list in order: the anon folios before it have migrated.
          expect(stats).toMatchObject({ nrSucceeded: 2, nrFailedPages: 512 });
          expect(list.toArray()).toEqual([hpage]);
          expect(nodeFreePages(m.mem, 1)).toBe(buddy1 - 2);
        }
        expect(hugetlbBuddyAllocEvents(m.mem).htlb_buddy_alloc_fail).toBe(1);
        expect(pool(m, 0)).toEqual([2, 1, 0]);
        expect(pool(m, 1)).toEqual([0, 0, 0]);
        yield* m.core.putbackMovablePages(list);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  /** [variant, reason, the destination's node or -ENOMEM]. */
  const fallbackCases: Array<[VariantName, MigrateReason, string, number]> = [
    ['v6.3', MR_COMPACTION, 'compaction', 0],
    ['v6.11', MR_COMPACTION, 'compaction', -ENOMEM],
    ['v6.11', MR_SYSCALL, 'syscall', 0],
  ];
  for (const [variant, reason, what, want] of fallbackCases) {
    it(`${variant} ${what}: a temporary target from another node's buddy ${want === 0 ? 'is allowed' : 'is not (htlb_allow_alloc_fallback)'}`, () => {
      // Node 0's one pool page is in use, node 1 has no pool and no order-9 block.
      const m = buildMachine({ variant, hugetlbPages: [1, 0], nodes: [8192, 256] });
      const file = m.vm.createFile('hugetlbfs');
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
        const list = newList(m);
        m.core.isolateHugetlb(hpage, list);
        const { rc } = yield* m.core.migratePages(
          list,
          m.core.allocMigrationTarget,
          null,
          { nid: 1, reason },
          MIGRATE_SYNC,
          reason,
        );
        if (want === 0) {
          expect(rc).toBe(0);
          // From node 0's buddy; the source, now temporary, left node 0's pool.
          expect(folioNid(m.mem, file.lookup(0)!)).toBe(0);
          expect(pool(m, 0)).toEqual([1, 0, 0]);
        } else {
          expect(rc).toBe(-ENOMEM);
          expect(hugetlbBuddyAllocEvents(m.mem).htlb_buddy_alloc_fail).toBe(1);
          yield* m.core.putbackMovablePages(list);
        }
        expect(pool(m, 1)).toEqual([0, 0, 0]);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  for (const pool1 of [1, 0]) {
    it(`a destination (${pool1 === 1 ? 'from the pool' : 'temporary'}) is not HPageMigratable until it is put back`, () => {
      const m = hugetlbMachine('v6.3', true, pool1);
      const file = m.vm.createFile('hugetlbfs');
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
        const list = newList(m);
        m.core.isolateHugetlb(hpage, list);
        const other = newList(m);
        let isolated: boolean | null = null;
        const { rc } = yield* m.core.migratePages(
          list,
          (src, mtc) => {
            const dst = m.core.allocMigrationTarget(src, mtc);
            // isolate_hugetlb() refuses a folio without HPageMigratable.
            if (dst !== null) isolated = m.core.isolateHugetlb(dst, other);
            return dst;
          },
          null,
          { nid: 1, thisNode: true },
          MIGRATE_SYNC,
          MR_MEMORY_HOTPLUG,
        );
        expect(rc).toBe(0);
        expect(isolated).toBe(false);
        expect(other.toArray()).toEqual([]);
        // Put back after the migration: migratable, on the active list.
        const dst = file.lookup(0)!;
        expect(m.core.hugepageActivelist.toArray()).toEqual([dst]);
        expect(m.core.isolateHugetlb(dst, other)).toBe(true);
        yield* m.core.putbackMovablePages(other);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('a failed migration frees its temporary destination to the buddy, every pass', () => {
    const m = hugetlbMachine('v6.3', true, 0);
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const hpage = hugetlbfsFolio(m, file, 0, 0, 1);
      const list = newList(m);
      m.core.isolateHugetlb(hpage, list);
      folioGet(m.mem, hpage); // an extra reference: -EAGAIN every pass
      const buddy1 = nodeFreePages(m.mem, 1);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(1);
      expect(stats.nrFailedPages).toBe(512);
      // Ten temporary pages taken and given back: node 1 holds no huge page and its
      // buddy has every frame back.
      expect(hugetlbBuddyAllocEvents(m.mem).htlb_buddy_alloc_success).toBe(10);
      expect(pool(m, 1)).toEqual([0, 0, 0]);
      expect(nodeFreePages(m.mem, 1)).toBe(buddy1);
      expect(pool(m, 0)).toEqual([2, 1, 0]);
      expect(folioTestHugetlbTemporary(m.mem, hpage)).toBe(false);
      yield* m.core.putbackMovablePages(list);
      folioPut(m.mem, hpage);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('a surplus source moved across nodes takes its surplus count along (move_hugetlb_state)', () => {
    const m = hugetlbMachine('v6.3', true, 0);
    hugetlbSetNrOvercommitHugePages(m.mem, 1);
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      // Node 0's two pool pages in use, the third page is a surplus one.
      hugetlbfsFolio(m, file, 0, 0, 1);
      hugetlbfsFolio(m, file, 1, 0, 1);
      const surplus = hugetlbfsFolio(m, file, 2, 0, 7);
      expect(pool(m, 0)).toEqual([3, 0, 1]);
      // Over the overcommit limit: no fourth page.
      expect(m.core.hugetlbAllocActive(0)).toBe(-ENOMEM);
      const list = newList(m);
      m.core.isolateHugetlb(surplus, list);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
      expect(pool(m, 0)).toEqual([2, 0, 0]);
      expect(pool(m, 1)).toEqual([1, 0, 1]);
      expect(hugetlbMeminfo(m.mem)).toMatchObject({ HugePages_Total: 3, HugePages_Surp: 1 });
      // Freed, the page on node 1 is a surplus one: it goes back to node 1's buddy.
      const dst = file.lookup(2)!;
      expect(pageContent(m.mem, dst + 3)).toBe(10);
      m.vm.filemapRemoveFolio(file, dst);
      m.core.hugepageActivelist.del(dst);
      folioPut(m.mem, dst);
      expect(pool(m, 1)).toEqual([0, 0, 0]);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('a pool destination for a source on a node with surplus pages: the source leaves the pool as surplus', () => {
    const m = hugetlbMachine('v6.3', true, 1);
    hugetlbSetNrOvercommitHugePages(m.mem, 1);
    const file = m.vm.createFile('hugetlbfs');
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const a = hugetlbfsFolio(m, file, 0, 0, 1);
      hugetlbfsFolio(m, file, 1, 0, 1);
      hugetlbfsFolio(m, file, 2, 0, 1); // surplus
      expect(pool(m, 0)).toEqual([3, 0, 1]);
      const list = newList(m);
      m.core.isolateHugetlb(a, list);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
      // Node 1's pool page was used (not temporary): nothing to move; the freed source
      // finds node 0 with a surplus page and leaves the pool as that one
      // (free_huge_page: remove_hugetlb_folio(h, folio, true)).
      expect(hugetlbBuddyAllocEvents(m.mem).htlb_buddy_alloc_success).toBe(1);
      expect(pool(m, 0)).toEqual([2, 0, 0]);
      expect(pool(m, 1)).toEqual([1, 0, 0]);
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
