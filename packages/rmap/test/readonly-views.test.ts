import { folioAlloc, folioPut } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AddressSpaceView,
  type AnonVmaView,
  folioAddressSpace,
  MAP_SHARED,
  type MmView,
  type PageTableView,
  type VmaView,
} from '../src/index.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

/**
 * The boundary: other packages get rmap's objects as read-only views. Each marked line
 * must fail to compile; if a view became writable, `@ts-expect-error` would be unused and
 * the typecheck of this file would fail. Never called: the lines would write.
 */
function writesThroughViews(
  mm: MmView,
  vma: VmaView,
  file: AddressSpaceView,
  table: PageTableView,
  anonVma: AnonVmaView,
): void {
  // @ts-expect-error a VMA's flags change only inside rmap
  vma.flags = 0;
  // @ts-expect-error its bounds too (munmap splits VMAs)
  vma.end = vma.start;
  // @ts-expect-error the VMA list is rmap's
  mm.vmas.push(vma);
  // @ts-expect-error exit_mmap clears it
  mm.alive = false;
  // @ts-expect-error pins are taken with pinUserPage
  mm.pins.set(0, 1);
  // @ts-expect-error the methods that change an mm are not on the view
  mm.insertVma(vma);
  // @ts-expect-error i_pages changes only through the page-cache functions
  file.pages.set(0, 0);
  // @ts-expect-error i_mmap is rmap's
  file.iMmap.add(vma);
  // @ts-expect-error the disk content too
  file.backing.set(0, 1);
  // @ts-expect-error a_ops are set with mappingSetAops
  file.aops = null;
  // @ts-expect-error PTEs change only inside rmap
  table.ptes[0] = 0;
  // @ts-expect-error anon_vma references are put with putAnonVma
  anonVma.refcount = 0;
}

describe('read-only views', () => {
  it('are what VirtualMemory and folioAddressSpace hand out', () => {
    const { vm } = machine();
    expectTypeOf(vm.createProcess).returns.toEqualTypeOf<MmView>();
    expectTypeOf(vm.fork).returns.toEqualTypeOf<KernelGen<MmView>>();
    expectTypeOf(vm.processes).toEqualTypeOf<readonly MmView[]>();
    expectTypeOf(vm.createFile).returns.toEqualTypeOf<AddressSpaceView>();
    expectTypeOf(vm.folioAnonVma).returns.toEqualTypeOf<AnonVmaView | null>();
    expectTypeOf(folioAddressSpace).returns.toEqualTypeOf<AddressSpaceView | null>();
    expect(writesThroughViews).toBeTypeOf('function');
  });

  it('are the objects themselves, not copies', () => {
    const m = machine();
    const { vm, mem } = m;
    const mm = vm.createProcess('p');
    const file = vm.createFile('f', { content: [7] });
    const addr = vm.mmap(mm, { length: 4096, flags: MAP_SHARED, file });
    expect(vm.processes).toEqual([mm]);
    expect(mm.vmas[0]!.file).toBe(file);
    expect([...file.iMmap]).toEqual([mm.vmas[0]]);
    m.rt.spawn('reader', 0, function* (): KernelGen {
      expect(yield* vm.userRead(mm, addr)).toBe(7);
      const folio = file.lookup(0)!;
      expect(folioAddressSpace(mem, folio)).toBe(file);
      yield* vm.munmap(mm, addr, 4096);
    });
    runAndCheck(m);
    const unused = folioAlloc(mem, 0, 0);
    expect(folioAddressSpace(mem, unused)).toBeNull();
    folioPut(mem, unused);
  });
});
