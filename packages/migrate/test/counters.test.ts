import {
  type Folio,
  folioAlloc,
  folioGet,
  folioMapping,
  folioNid,
  folioOrder,
  folioPut,
  folioSetFlag,
  folioTestHugetlb,
  HPAGE_PMD_NR,
  PG_uptodate,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { type AddressSpaceView, PAGE_SIZE, PMD_SIZE } from '@mmsim/rmap';
import { foliosOf, lockHolder, mapAnon, writePages } from '@mmsim/rmap/test';
import { Completion, ENOMEM, type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
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
  hugetlbfsFolio,
  migrateToNode,
  traceLines,
} from '../src/testing/index.js';

const EVENTS = [
  'PGMIGRATE_SUCCESS',
  'PGMIGRATE_FAIL',
  'THP_MIGRATION_SUCCESS',
  'THP_MIGRATION_FAIL',
  'THP_MIGRATION_SPLIT',
] as const;

describe('exact counters: 512 order-0 anon folios, 2 THPs and 1 hugetlb folio to node 1', () => {
  const cases: Array<[VariantName, MigrateMode, string]> = [
    ['v6.3', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.3', MIGRATE_ASYNC, 'MIGRATE_ASYNC'],
    ['v6.2', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.3-rc1', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.11', MIGRATE_ASYNC, 'MIGRATE_ASYNC'],
  ];
  for (const [variant, mode, modeName] of cases) {
    it(`${variant} ${modeName}`, () => {
      const m = buildMachine({ variant, hugetlbPages: [1, 1], nodes: [8192, 8192] });
      const { vm, mem, core } = m;
      const mm = vm.createProcess('p');
      const small = mapAnon(m, mm, 512);
      const huge = mapAnon(m, mm, 2 * HPAGE_PMD_NR, true);
      expect(huge % PMD_SIZE).toBe(0);
      const file = vm.createFile('hugetlbfs:/data');
      const lines = traceLines(m);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        yield* writePages(m, mm, small, 512, (i) => 1000 + i);
        yield* writePages(m, mm, huge, 2 * HPAGE_PMD_NR, (i) => 5000 + i);
        const hpage = hugetlbfsFolio(m, file, 0, 0, 90_000);
        const smallFolios = foliosOf(m, mm, small, 512);
        const thps = foliosOf(m, mm, huge, 2 * HPAGE_PMD_NR);
        expect(smallFolios).toHaveLength(512);
        expect(thps.map((f) => folioOrder(mem, f))).toEqual([9, 9]);
        const list = newList(m);
        expect(yield* isolateFolios(m, [...smallFolios, ...thps], list)).toBe(514);
        expect(core.isolateHugetlb(hpage, list)).toBe(true);
        const before = EVENTS.map((e) => m.vmstat.vmEvent(VmEvent[e]));

        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);

        expect(rc).toBe(0);
        expect(list.isEmpty()).toBe(true);
        expect(stats).toEqual({
          nrSucceeded: 512 + 2 * 512 + 512,
          nrFailedPages: 0,
          nrThpSucceeded: 2,
          nrThpFailed: 0,
          nrThpSplit: 0,
          nrSplit: 0,
        });
        const delta = EVENTS.map((e, i) => m.vmstat.vmEvent(VmEvent[e]) - before[i]!);
        expect(delta).toEqual([2048, 0, 2, 0, 0]);
        expect(lines).toEqual([
          `mm_migrate_pages_start: mode=${modeName} reason=syscall_or_cpuset`,
          // 6.7+ (v6.11) prints nr_split after nr_thp_split.
          `mm_migrate_pages: nr_succeeded=2048 nr_failed=0 nr_thp_succeeded=2 nr_thp_failed=0 nr_thp_split=0 ${variant === 'v6.11' ? 'nr_split=0 ' : ''}mode=${modeName} reason=syscall_or_cpuset`,
        ]);
        // Everything is on node 1 with its contents.
        const after = [...foliosOf(m, mm, small, 512), ...foliosOf(m, mm, huge, 2 * HPAGE_PMD_NR)];
        expect(after.every((f) => folioNid(mem, f) === 1)).toBe(true);
        for (let i = 0; i < 512; i++) {
          expect(vm.userReadFast(mm, small + i * PAGE_SIZE)).toBe(1000 + i);
        }
        for (let i = 0; i < 2 * HPAGE_PMD_NR; i++) {
          expect(yield* vm.userRead(mm, huge + i * PAGE_SIZE)).toBe(5000 + i);
        }
        const newHpage = file.lookup(0)!;
        expect(newHpage).not.toBe(hpage);
        expect(folioTestHugetlb(mem, newHpage)).toBe(true);
        expect(folioNid(mem, newHpage)).toBe(1);
        expect(pageContent(mem, newHpage + 7)).toBe(90_007);
        expect(core.hugepageActivelist.toArray()).toEqual([newHpage]);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});

/**
 * A large folio that is not PMD-mappable (an order-2 page-cache folio) is not a THP for
 * THP_MIGRATION_* and the mm_migrate_pages thp fields: 6.2 keeps `is_thp` (`is_large &&
 * folio_test_pmd_mappable`) apart from `is_large`, as the batch engine does, while the
 * result still counts it as one failed folio when it stays whole. When it can be split,
 * its pieces migrate (each piece has its own i_pages slot after the split), the split is
 * no THP split, and the result is 0 wherever `if (list_empty(from)) rc = 0` is in
 * migrate_pages() (03e5f82ea632: 6.2, 6.3-rc1 and later; not the September 2022 RFC).
 */
describe('a non-PMD-mappable large folio is not a THP in the THP counters', () => {
  /** An order-2 folio caching indices 0..3 of a new file, isolated on a new list. */
  function* order2PageCache(m: ReturnType<typeof buildMachine>) {
    const { vm, mem } = m;
    const file = vm.createFile('data');
    const folio = folioAlloc(mem, 2, 0);
    for (let i = 0; i < 4; i++) setPageContent(mem, folio + i, 700 + i);
    yield* vm.filemapAddFolio(file, folio, 0);
    folioSetFlag(mem, folio, PG_uptodate);
    m.locks.folioUnlock(folio);
    folioPut(mem, folio); // the allocation reference: the page cache holds it now
    const list = newList(m);
    expect(yield* isolateFolios(m, [folio], list)).toBe(1);
    return { folio, list };
  }

  const variants: Array<[VariantName, MigrateMode, string]> = [
    ['v6.2', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.2', MIGRATE_ASYNC, 'MIGRATE_ASYNC'],
    ['rfc-2022', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.3-rc1', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.3', MIGRATE_SYNC, 'MIGRATE_SYNC'],
    ['v6.11', MIGRATE_ASYNC, 'MIGRATE_ASYNC'],
  ];
  for (const [variant, mode, modeName] of variants) {
    it(`${variant} ${modeName}: -ENOMEM for an order-2 folio that cannot be split counts no THP`, () => {
      const m = buildMachine({ variant });
      const lines = traceLines(m);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { folio, list } = yield* order2PageCache(m);
        folioGet(m.mem, folio); // an extra pin: can_split_folio fails (-EAGAIN)
        const before = EVENTS.map((e) => m.vmstat.vmEvent(VmEvent[e]));
        const { rc, stats } = yield* m.core.migratePages(
          list,
          (src) =>
            folioOrder(m.mem, src) > 0 ? null : m.core.allocMigrationTarget(src, { nid: 1 }),
          null,
          null,
          mode,
          MR_SYSCALL,
        );
        expect(rc).toBe(-ENOMEM);
        expect(stats).toEqual({
          nrSucceeded: 0,
          nrFailedPages: 4,
          nrThpSucceeded: 0,
          nrThpFailed: 0,
          nrThpSplit: 0,
          nrSplit: 0,
        });
        const delta = EVENTS.map((e, i) => m.vmstat.vmEvent(VmEvent[e]) - before[i]!);
        expect(delta).toEqual([0, 4, 0, 0, 0]);
        expect(lines.at(-1)).toBe(
          `mm_migrate_pages: nr_succeeded=0 nr_failed=4 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 ${variant === 'v6.11' ? 'nr_split=0 ' : ''}mode=${modeName} reason=syscall_or_cpuset`,
        );
        expect(list.toArray()).toEqual([folio]);
        expect(folioOrder(m.mem, folio)).toBe(2);
        yield* m.core.putbackMovablePages(list);
        folioPut(m.mem, folio);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  const splitCases: Array<[VariantName, MigrateMode, string, number]> = [
    ['v6.2', MIGRATE_SYNC, 'MIGRATE_SYNC', 0],
    ['v6.2', MIGRATE_ASYNC, 'MIGRATE_ASYNC', 0],
    ['rfc-2022', MIGRATE_SYNC, 'MIGRATE_SYNC', 1],
    ['v6.3-rc1', MIGRATE_SYNC, 'MIGRATE_SYNC', 0],
    ['v6.3', MIGRATE_SYNC, 'MIGRATE_SYNC', 0],
    ['v6.3', MIGRATE_ASYNC, 'MIGRATE_ASYNC', 0],
    ['v6.10', MIGRATE_SYNC, 'MIGRATE_SYNC', 0],
    ['v6.11', MIGRATE_ASYNC, 'MIGRATE_ASYNC', 0],
  ];
  for (const [variant, mode, modeName, rcWant] of splitCases) {
    it(`${variant} ${modeName}: -ENOMEM for an order-2 page-cache folio splits it, every piece migrates, no THP split, rc ${rcWant}`, () => {
      const m = buildMachine({ variant });
      const lines = traceLines(m);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { folio, list } = yield* order2PageCache(m);
        const file = folioMapping(m.mem, folio) as AddressSpaceView;
        const nrFile = (nid: number) => m.vmstat.nodePageState(nid, NodeStat.NR_FILE_PAGES);
        expect([nrFile(0), nrFile(1)]).toEqual([4, 0]);
        const before = EVENTS.map((e) => m.vmstat.vmEvent(VmEvent[e]));
        const { rc, stats } = yield* m.core.migratePages(
          list,
          (src) =>
            folioOrder(m.mem, src) > 0 ? null : m.core.allocMigrationTarget(src, { nid: 1 }),
          null,
          null,
          mode,
          MR_SYSCALL,
        );
        expect(rc).toBe(rcWant);
        expect(list.isEmpty()).toBe(true);
        expect(stats).toEqual({
          nrSucceeded: 4,
          nrFailedPages: 0,
          nrThpSucceeded: 0,
          nrThpFailed: 0,
          nrThpSplit: 0,
          nrSplit: variant === 'v6.2' ? 0 : 1,
        });
        const delta = EVENTS.map((e, i) => m.vmstat.vmEvent(VmEvent[e]) - before[i]!);
        expect(delta).toEqual([4, 0, 0, 0, 0]);
        expect(lines.at(-1)).toMatch(
          `mm_migrate_pages: nr_succeeded=4 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 `,
        );
        // Every index is cached by its own order-0 copy on node 1, with its contents.
        expect(file.nrPages).toBe(4);
        for (let i = 0; i < 4; i++) {
          const piece = file.lookup(i)!;
          expect(piece).not.toBe(folio + i);
          expect(folioOrder(m.mem, piece)).toBe(0);
          expect(folioNid(m.mem, piece)).toBe(1);
          expect(pageContent(m.mem, piece)).toBe(700 + i);
        }
        expect([nrFile(0), nrFile(1)]).toEqual([0, 4]);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  for (const variant of [
    'v6.2',
    'rfc-2022',
    'v6.3-rc1',
    'v6.3',
    'v6.10',
    'v6.11',
  ] as VariantName[]) {
    it(`${variant} MIGRATE_ASYNC: an order-2 folio locked elsewhere fails after its retries, once, as no THP`, () => {
      const m = buildMachine({ variant });
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      let target: Folio = -1;
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { folio, list } = yield* order2PageCache(m);
        target = folio;
        ready.complete();
        yield* locked.wait();
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
        expect(rc).toBe(1);
        expect(stats).toEqual({
          nrSucceeded: 0,
          nrFailedPages: 4,
          nrThpSucceeded: 0,
          nrThpFailed: 0,
          nrThpSplit: 0,
          nrSplit: 0,
        });
        expect(list.toArray()).toEqual([folio]);
        yield* m.core.putbackMovablePages(list);
      });
      lockHolder(m, 1, () => target, ready, locked, 50_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }
});
