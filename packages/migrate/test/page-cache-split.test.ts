import {
  folioAlloc,
  folioOrder,
  folioPut,
  folioRefCount,
  folioSetFlag,
  PG_uptodate,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { filemapGetEntry } from '@mmsim/rmap';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_SYNC } from '../src/index.js';
import { trySplitFolio } from '../src/internal.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
} from '../src/testing/index.js';

/**
 * Splitting a large page-cache folio (split_huge_page_to_list / __split_huge_page,
 * mm/huge_memory.c, 6.3) leaves every new order-0 folio in i_pages at its own index.
 */
describe('splitting a large page-cache folio (i_pages per piece)', () => {
  it('after try_split_folio of an order-2 page-cache folio every index looks up its own piece', () => {
    const m = buildMachine({ variant: 'v6.3' });
    const { vm, mem } = m;
    spawn(m, 'split', 0, function* (): KernelGen {
      const file = vm.createFile('data');
      const folio = folioAlloc(mem, 2, 0);
      for (let i = 0; i < 4; i++) setPageContent(mem, folio + i, 700 + i);
      yield* vm.filemapAddFolio(file, folio, 8);
      folioSetFlag(mem, folio, PG_uptodate);
      m.locks.folioUnlock(folio);
      folioPut(mem, folio);
      const list = newList(m);
      expect(yield* isolateFolios(m, [folio], list)).toBe(1);
      const fileBefore = m.vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES);
      const split = newList(m);
      expect(yield* trySplitFolio(m.core.env, folio, split, MIGRATE_SYNC)).toBe(0);

      expect(file.nrPages).toBe(4);
      for (let i = 0; i < 4; i++) {
        const piece = folio + i;
        expect(folioOrder(mem, piece)).toBe(0);
        expect(file.lookup(8 + i)).toBe(piece);
        expect(filemapGetEntry(mem, file, 8 + i)).toBe(piece);
        expect(pageContent(mem, piece)).toBe(700 + i);
        expect(folioRefCount(mem, piece)).toBe(2); // the cache's and the isolation's
      }
      expect(filemapGetEntry(mem, file, 12)).toBeUndefined();
      // 6.3 moves only NR_FILE_THPS / NR_SHMEM_THPS on a split: nr_file_pages stays.
      expect(m.vmstat.nodePageState(0, NodeStat.NR_FILE_PAGES)).toBe(fileBefore);
      expect(split.toArray()).toEqual([folio + 3, folio + 2, folio + 1, folio]);
      expect(list.isEmpty()).toBe(true);
      yield* m.core.putbackMovablePages(split);
    });
    runAll(m);
    expectQuiescent(m);
  });
});
