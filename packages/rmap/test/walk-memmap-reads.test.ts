import { FRAME_FREE, folioGet, folioPut, memmapReader } from '@mmsim/folio';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, TTU_BATCH_FLUSH } from '../src/index.js';
import { mutableMm, Vma } from '../src/internal.js';
import { createRmapMachine, runAndCheck } from '../src/testing/index.js';
import { vmaCoversPgoff } from '../src/uncontended.js';
import { folioVmaRange, folioVmaRangeAtInto } from '../src/vma-address.js';

/*
 * The uncontended walks and the rmap accounting read a folio's fields through
 * `memmapReader` (unchecked reads) once an accessor's check has passed: these tests hold
 * them to what the checked accessors did before.
 */

function codeOf(body: () => unknown): string | null {
  try {
    body();
  } catch (e) {
    if (e instanceof MmsimError) return e.code;
    throw e;
  }
  return null;
}

describe('the walks read the memmap only after the accessors checked it', () => {
  it('remove_migration_ptes on a freed folio throws the accessor error, fast path or not', () => {
    const m = createRmapMachine();
    const { vm, mem, locks } = m;
    const p = vm.createProcess('p');
    const addr = vm.mmap(p, { length: 2 * PAGE_SIZE });
    m.rt.spawn('t', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.userWrite(p, addr + PAGE_SIZE, 2);
      const page = vm.followPage(p, addr);
      yield* vm.munmap(p, addr + PAGE_SIZE, PAGE_SIZE);
      // A free frame inside a buddy block: its memmap fields read as an order-0 folio's with
      // no mapping, so only the accessors' check tells it from a folio like `page`.
      const r = memmapReader(mem);
      let freed = -1;
      for (let pfn = 0; pfn < r.maxPfn && freed < 0; pfn++) {
        if (r.state[pfn] === FRAME_FREE && r.order[pfn] === 0) freed = pfn;
      }
      expect(codeOf(() => folioGet(mem, freed))).toBe('USE_AFTER_FREE');
      expect(codeOf(() => vm.removeMigrationPtesUncontended(page, freed, false))).toBe(
        'USE_AFTER_FREE',
      );
      expect(codeOf(() => vm.removeMigrationPtesUncontended(freed, page, false))).toBe(
        'USE_AFTER_FREE',
      );
      let thrown: unknown = null;
      try {
        yield* vm.removeMigrationPtes(page, freed, false);
      } catch (e) {
        thrown = e;
      }
      expect((thrown as MmsimError).code).toBe('USE_AFTER_FREE');
      // The mapping is untouched, and a real round trip still works.
      folioGet(mem, page);
      yield* locks.folioLock(page, 't');
      expect(vm.tryToMigrateUncontended(page, TTU_BATCH_FLUSH)).toBe(true);
      vm.tryToUnmapFlush();
      expect(vm.lookupPte(p, addr).kind).toBe('migration');
      expect(vm.removeMigrationPtesUncontended(page, page, false)).toBe(true);
      expect(vm.lookupPte(p, addr)).toMatchObject({ kind: 'present', pfn: page });
      locks.folioUnlock(page);
      folioPut(mem, page);
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });

  it('vmaCoversPgoff and folioVmaRangeAtInto are the walk interval test and range, for page offsets above 2^30 and 2^31', () => {
    const m = createRmapMachine();
    const mm = mutableMm(m.vm.createProcess('p'));
    const big = fc.oneof(
      fc.integer({ min: 0, max: 1 << 20 }),
      fc.integer({ min: 2 ** 30 - 600, max: 2 ** 30 + 600 }),
      fc.integer({ min: 2 ** 31 - 600, max: 2 ** 31 + 600 }),
      fc.integer({ min: 2 ** 35 - 600, max: 2 ** 35 + 600 }),
    );
    fc.assert(
      fc.property(
        big,
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: -700, max: 700 }),
        fc.constantFrom(1, 2, 4, 16, 512),
        (vmaPgoff, vmaPages, delta, nr) => {
          const start = 0x7f00_0000_0000;
          const vma = new Vma(mm, start, start + vmaPages * PAGE_SIZE, 0, vmaPgoff, null, null);
          const pgoff = Math.max(0, vmaPgoff + delta);
          const walk = !(vma.pgoff > pgoff + nr - 1 || vma.lastPgoff < pgoff);
          expect(vmaCoversPgoff(vma, pgoff, nr)).toBe(walk);
          // The range the walks scan, from the offset in the VMA, is `folioVmaRange`'s.
          const out = { startVpn: -1, endVpn: -1 };
          const found = folioVmaRangeAtInto(vma, pgoff - vma.pgoff, nr, out);
          expect(found ? out : null).toEqual(folioVmaRange(vma, pgoff, nr));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
