import {
  folioAlloc,
  folioOrder,
  folioPut,
  folioRefAdd,
  folioRefCount,
  folioSetFlag,
  folioSetMapping,
  PG_uptodate,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { filemapGetEntry } from '@mmsim/rmap';
import { type KernelGen, MmsimError, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_SYNC } from '../src/index.js';
import { splitFolioToList, trySplitFolio } from '../src/internal.js';
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

  it('a file mapping without splitEntry is refused before the folio is split', () => {
    const m = buildMachine({ variant: 'v6.3' });
    const { mem } = m;
    spawn(m, 'split', 0, function* (): KernelGen {
      const folio = folioAlloc(mem, 2, 0);
      folioSetMapping(mem, folio, 0, { replaceFolio() {} });
      folioRefAdd(mem, folio, 4); // the cache's references
      m.locks.folioTrylock(folio, 'test');
      const list = newList(m);
      let error: unknown;
      try {
        yield* splitFolioToList(m.core.env, folio, list);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MmsimError);
      expect((error as MmsimError).code).toBe('CONTRACT_VIOLATION');
      expect(folioOrder(mem, folio)).toBe(2);
      expect(folioRefCount(mem, folio)).toBe(5);
      expect(list.isEmpty()).toBe(true);
      m.locks.folioUnlock(folio);
      folioSetMapping(mem, folio, 0, null);
      for (let i = 0; i < 5; i++) folioPut(mem, folio);
    });
    runAll(m);
    expectQuiescent(m);
  });
});
