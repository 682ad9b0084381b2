import { folioGet, folioMapcount, folioPut, PG_anon_exclusive, pageTestFlag } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { EAGAIN } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MAP_ANONYMOUS,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  TTU_BATCH_FLUSH,
  VM_STACK_INCOMPLETE_SETUP,
} from '../src/index.js';
import { mutableVma } from '../src/internal.js';
import { freePages, createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

describe('where try_to_migrate stops', () => {
  it('an anon-exclusive page that may be pinned keeps its PTE (page_try_share_anon_rmap)', () => {
    const m = machine();
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    const before = freePages(mem);
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 3);
      const pfn = yield* vm.pinUserPage(p, addr, true);
      expect(vm.folioMaybeDmaPinned(pfn)).toBe(true);
      const pte = vm.lookupPte(p, addr);
      expect(
        yield* migrateFolio(m, pfn, {
          whileUnmapped: () => {
            throw new Error('the pinned folio must stay mapped');
          },
        }),
      ).toBe(-EAGAIN);
      expect(vm.lookupPte(p, addr)).toEqual(pte);
      expect(pageTestFlag(mem, pfn, PG_anon_exclusive)).toBe(true);
      yield* vm.unpinUserPage(p, pfn);
      const dst = yield* migrateFolio(m, pfn);
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(yield* vm.userRead(p, addr)).toBe(3);
      yield* vm.exit(p);
    });
    runAndCheck(m);
    expect(freePages(mem)).toEqual(before);
  });

  it('a read-only pin of a COW-shared page unshares it first', () => {
    const m = machine();
    const { vm, mem, rt } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 4096 });
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 3);
      const shared = vm.followPage(p, addr);
      const child = yield* vm.fork(p);
      const pinned = yield* vm.pinUserPage(p, addr, false);
      expect(pinned).not.toBe(shared); // copied by the unshare fault
      expect(vm.lookupPte(p, addr)).toMatchObject({ pfn: pinned, write: false });
      expect(pageTestFlag(mem, pinned, PG_anon_exclusive)).toBe(true);
      expect(yield* vm.userRead(child, addr)).toBe(3);
      yield* vm.exit(child);
      yield* vm.exit(p); // releases the pin
    });
    runAndCheck(m);
  });

  it('an anon folio stays mapped in exec’s temporary stack VMA, partly mapped', () => {
    const m = machine();
    const { vm, mem, rt, locks } = m;
    const p = vm.createProcess('p');
    const addr = vm.mmap(p, { length: 4096, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN });
    rt.spawn('main', 0, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      const child = yield* vm.fork(p, 'child');
      const folio = vm.followPage(p, addr);
      mutableVma(child.vmas[0]!).flags |= VM_STACK_INCOMPLETE_SETUP; // as exec's setup_arg_pages would
      folioGet(mem, folio);
      yield* locks.folioLock(folio, 'test');
      yield* vm.tryToMigrate(folio, TTU_BATCH_FLUSH);
      expect(vm.folioMapped(folio)).toBe(true);
      expect(folioMapcount(mem, folio)).toBe(1);
      expect(vm.lookupPte(p, addr).kind).toBe('migration');
      expect(vm.lookupPte(child, addr).kind).toBe('present');
      // The caller undoes it, as migration does for a folio that stayed mapped.
      vm.tryToUnmapFlush();
      yield* vm.removeMigrationPtes(folio, folio, false);
      locks.folioUnlock(folio);
      folioPut(mem, folio);
      expect(folioMapcount(mem, folio)).toBe(2);
      expect(yield* vm.userRead(p, addr)).toBe(1);
      mutableVma(child.vmas[0]!).flags &= ~VM_STACK_INCOMPLETE_SETUP;
      yield* vm.exit(child);
      yield* vm.exit(p);
    });
    runAndCheck(m);
  });
});
