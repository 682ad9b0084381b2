import { folioNid, folioTestKsm, pfnFolio } from '@mmsim/folio';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MADV_MERGEABLE, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';
import { migrateOne } from './helpers.js';

/*
 * KSM folios under migration, end to end (Linux 6.3): migrate_folio_unmap takes no anon_vma
 * for a KSM folio, try_to_migrate and remove_migration_ptes walk it with rmap_walk_ksm at
 * the rmap_items' addresses (the 4b0ece6fa016 fix: never from linear_page_index for a small
 * folio), folio_migrate_flags moves the stable node (folio_migrate_ksm). The shape of LTP's
 * migrate_pages03 (ltp/testcases/kernel/syscalls/migrate_pages/migrate_pages03.c): 20
 * one-page zero-filled mappings merged into one KSM page, ping-ponged between two nodes.
 */

function machine(): Kernel {
  return createKernel({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
}

/** ksmd until `n` more full scans are done. */
function* fullScans(k: Kernel, n: number): KernelGen {
  const target = k.vm.ksmStats.fullScans + n;
  for (let guard = 0; k.vm.ksmStats.fullScans < target; guard++) {
    yield* k.ksmDoScan(100);
    if (guard > 1000) throw new Error('ksmd made no progress');
  }
}

/** `count` one-page private mappings of `mm`, each zero-filled and MADV_MERGEABLE. */
function* mergeablePages(k: Kernel, mm: MmView, count: number): KernelGen<number[]> {
  const addrs: number[] = [];
  for (let i = 0; i < count; i++) {
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    // A gap after each mapping: the pages sit at unrelated indexes.
    k.vm.mmap(mm, { length: (i + 1) * PAGE_SIZE });
    yield* k.vm.userWrite(mm, addr, 0);
    expect(yield* k.vm.ksmMadvise(mm, addr, PAGE_SIZE, MADV_MERGEABLE)).toBe(0);
    addrs.push(addr);
  }
  return addrs;
}

describe('KSM folio migration', () => {
  it('a KSM folio migrates with every mapping following it (pagemap), its stable node moved', () => {
    const k = machine();
    const a = k.createProcess('a');
    const b = k.createProcess('b');
    k.rt.spawn('main', 0, function* (): KernelGen {
      const inA = yield* mergeablePages(k, a, 12);
      const inB = yield* mergeablePages(k, b, 8);
      yield* fullScans(k, 2);
      const kpage = k.vm.followPage(a, inA[0]!);
      expect(folioTestKsm(k.mem, kpage)).toBe(true);
      expect(k.vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 19 });
      // Shared by two mms: mapcount 20 (migrate_pages without MPOL_MF_MOVE_ALL skips it).
      expect(k.vm.folioMapcount(kpage)).toBe(20);
      const node = k.vm.ksmStableNode(kpage)!;
      let at = kpage;
      for (let round = 0; round < 6; round++) {
        const to = 1 - folioNid(k.mem, at);
        expect(yield* migrateOne(k, at, to, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
        const dst = k.vm.pagemap(a, inA[0]!).pfn;
        expect(dst).not.toBe(at);
        expect(folioNid(k.mem, dst)).toBe(to);
        expect(folioTestKsm(k.mem, dst)).toBe(true);
        expect(k.vm.ksmStableNode(dst)).toBe(node);
        expect(node.kpfn).toBe(dst);
        for (const addr of inA)
          expect(k.vm.pagemap(a, addr)).toMatchObject({ pfn: dst, present: true });
        for (const addr of inB)
          expect(k.vm.pagemap(b, addr)).toMatchObject({ pfn: dst, present: true });
        expect(k.vm.folioMapcount(dst)).toBe(20);
        expect(k.vm.check()).toEqual([]);
        at = dst;
      }
      expect(k.vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 19 });
      // A write still breaks the sharing, with the right content on both sides.
      yield* k.vm.userWrite(b, inB[3]!, 77);
      expect(yield* k.vm.userRead(b, inB[3]!)).toBe(77);
      expect(k.vm.followPage(b, inB[3]!)).not.toBe(at);
      expect(yield* k.vm.userRead(a, inA[3]!)).toBe(0);
      expect(k.vm.folioMapcount(at)).toBe(19);
      // ksmd still finds the node at its new pfn: nothing is pruned, the counters follow.
      yield* fullScans(k, 1);
      expect(k.vm.ksmStats).toMatchObject({ pagesShared: 1, pagesSharing: 18 });
      expect(pfnFolio(k.mem, node.kpfn)).toBe(at);
    });
    const result = k.run();
    expect(result.status).toBe('completed');
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });
});
