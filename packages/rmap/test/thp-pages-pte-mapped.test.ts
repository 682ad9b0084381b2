import { folioMapcount } from '@mmsim/folio';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, PMD_SIZE } from '../src/index.js';
import { createRmapMachine, runAndCheck } from '../src/testing/index.js';

/*
 * `page_remove_rmap` of a PMD mapping (mm/rmap.c, 6.3) takes out of nr_anon_pages only the
 * pages no PTE maps (`folio_nr_pages - (_nr_pages_mapped & FOLIO_PAGES_MAPPED)`): the model
 * counts them (`pagesPteMapped`), with a shortcut for a folio none of whose pages a PTE maps.
 */
describe('the PMD unmap of a THP some PTEs still map', () => {
  it('leaves the PTE-mapped pages counted in nr_anon_pages; with none, takes them all', () => {
    const m = createRmapMachine({ nodes: [8192] });
    const { vm, mem } = m;
    const anon = () => m.vmstat.globalNodePageState(NodeStat.NR_ANON_PAGES);
    const parent = vm.createProcess('parent');
    const thp = vm.mmap(parent, { length: PMD_SIZE, hugepage: true });
    m.rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, thp, 1);
      expect(vm.lookupPte(parent, thp).level).toBe('pmd');
      const head = vm.lookupPte(parent, thp).pfn;
      expect(anon()).toBe(512);
      const child = yield* vm.fork(parent, 'child');
      // The child's write splits its PMD into 512 PTEs and copies the page written.
      yield* vm.userWrite(child, thp + PAGE_SIZE, 2);
      expect(vm.lookupPte(child, thp).level).toBe('pte');
      expect(vm.lookupPte(child, thp + PAGE_SIZE).pfn).not.toBe(head + 1);
      expect(vm.lookupPte(parent, thp).level).toBe('pmd');
      expect(folioMapcount(mem, head)).toBe(1 + 511);
      expect(anon()).toBe(512 + 1);
      // The parent's PMD goes: 511 pages are still PTE-mapped by the child, one is not.
      expect(yield* vm.munmap(parent, thp, PMD_SIZE)).toBe(0);
      expect(anon()).toBe(511 + 1);
      // The child's PTEs go too: the THP is mapped no more.
      expect(yield* vm.munmap(child, thp, PMD_SIZE)).toBe(0);
      expect(anon()).toBe(0);
      // A THP only ever PMD-mapped: its unmap takes all 512 pages out.
      const other = vm.mmap(parent, { length: PMD_SIZE, hugepage: true });
      yield* vm.userWrite(parent, other, 3);
      expect(vm.lookupPte(parent, other).level).toBe('pmd');
      expect(anon()).toBe(512);
      expect(yield* vm.munmap(parent, other, PMD_SIZE)).toBe(0);
      expect(anon()).toBe(0);
    });
    runAndCheck(m);
  });
});
