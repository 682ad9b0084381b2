import { checkPhysicalMemory, FolioList, folioGet, folioNrPages, folioPut } from '@mmsim/folio';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MREMAP_MAYMOVE, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel } from '../src/index.js';

/*
 * mremap moving page tables while migrate_pages() has the same pages unmapped (migration
 * entries in their PTEs): under random schedules, the entries move with the PTEs
 * (move_ptes, mm/mremap.c 6.3) and remove_migration_ptes restores them at the new
 * address, so nothing stale is left and no write is lost.
 */

function raceOnce(seed: number): { entriesLeft: number; values: number[]; raced: boolean } {
  const k = createKernel({
    nodes: [{ pages: 1024 }, { pages: 1024 }],
    strategy: 'random',
    seed,
  });
  const mm = k.createProcess('p');
  const N = 4;
  const a = k.vm.mmap(mm, { length: N * PAGE_SIZE });
  k.vm.mmap(mm, { length: PAGE_SIZE, addr: a + N * PAGE_SIZE }); // forces a move
  let b = a;
  const values: number[] = [];
  let raced = false;
  k.rt.spawn('init', 0, function* (): KernelGen {
    for (let i = 0; i < N; i++) yield* k.vm.userWrite(mm, a + i * PAGE_SIZE, 100 + i);
    yield* k.lru.lruAddDrainAll();
    const mover = k.rt.spawn('move_pages', 0, function* (): KernelGen {
      const list = new FolioList(k.mem);
      for (let i = 0; i < N; i++) {
        // The pages may already be at the new address.
        const at = (b === a ? a : b) + i * PAGE_SIZE;
        const pte = k.vm.lookupPte(mm, at);
        if (pte.kind !== 'present') continue;
        const f = pte.pfn;
        folioGet(k.mem, f);
        if (yield* k.lru.folioIsolateLru(f)) {
          list.addTail(f);
          k.lru.nodeStatModFolio(f, k.lru.folioIsolatedItem(f), folioNrPages(k.mem, f));
          folioPut(k.mem, f);
        } else yield* k.lru.folioPut(f);
      }
      const r = yield* k.migrate.migratePages(
        list,
        k.migrate.allocMigrationTarget,
        null,
        { nid: 1, thisNode: true },
        MIGRATE_SYNC,
        MR_SYSCALL,
      );
      if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
      void r;
    });
    const remapper = k.rt.spawn('mremap', 1, function* (): KernelGen {
      b = yield* k.vm.mremap(mm, a, N * PAGE_SIZE, 2 * N * PAGE_SIZE, MREMAP_MAYMOVE);
      // Did the move carry migration entries (the race this test is about)?
      for (let i = 0; i < N; i++) {
        if (k.vm.lookupPte(mm, b + i * PAGE_SIZE).kind === 'migration') raced = true;
      }
    });
    yield* k.rt.join(mover);
    yield* k.rt.join(remapper);
    for (let i = 0; i < N; i++) values.push(yield* k.vm.userRead(mm, b + i * PAGE_SIZE));
  });
  expect(k.run().status).toBe('completed');
  let entriesLeft = 0;
  for (const vma of mm.vmas) {
    for (let addr = vma.start; addr < vma.end; addr += PAGE_SIZE) {
      if (k.vm.lookupPte(mm, addr).kind === 'migration') entriesLeft++;
    }
  }
  expect(k.vm.check()).toEqual([]);
  expect(checkPhysicalMemory(k.mem)).toEqual([]);
  return { entriesLeft, values, raced };
}

describe('mremap racing with migration', () => {
  it('200 random schedules: no migration entry left, every value at the new address', () => {
    let raced = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = raceOnce(seed);
      if (r.raced) raced++;
      expect({ seed, entriesLeft: r.entriesLeft, values: r.values }).toEqual({
        seed,
        entriesLeft: 0,
        values: [100, 101, 102, 103],
      });
    }
    // Some schedules did move migration entries (the window between unmap and remove).
    expect(raced).toBeGreaterThan(0);
  });
});
