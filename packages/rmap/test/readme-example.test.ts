import {
  createPhysicalMemory,
  folioAlloc,
  folioCopyContents,
  folioGet,
  folioIndex,
  folioPut,
  folioRawMapping,
  folioSetIndex,
  folioSetMapping,
  PAGE_MAPPING_ANON,
} from '@mmsim/folio';
import { PageLockTable } from '@mmsim/page-lock';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { expect, it } from 'vitest';
import { TTU_BATCH_FLUSH, VirtualMemory } from '../src/index.js';

/** The usage example of the README, run as written. */
it('the README example runs', () => {
  const log: unknown[] = [];

  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] }); // in order: 'user' runs first
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 4096 }] });
  const locks = new PageLockTable(rt, mem);
  const vm = new VirtualMemory(rt, mem, locks, new VmStat(2));

  const parent = vm.createProcess('parent');
  const addr = vm.mmap(parent, { length: 4096 }); // MAP_PRIVATE | MAP_ANONYMOUS

  rt.spawn('user', 1, function* (): KernelGen {
    yield* vm.userWrite(parent, addr, 42); // first touch: a page on CPU 1's node
    const child = yield* vm.fork(parent); // COW: both write-protected, the page shared
    log.push(yield* vm.userRead(child, addr)); // 42
  });

  rt.spawn('migrate', 0, function* (): KernelGen {
    const src = vm.followPage(parent, addr);
    folioGet(mem, src); // the isolation reference
    yield* locks.folioLock(src, 'migrate_folio_unmap');
    const anonVma = vm.folioGetAnonVma(src);
    yield* vm.tryToMigrate(src, TTU_BATCH_FLUSH); // migration entries, flush deferred
    vm.tryToUnmapFlush(); // one shootdown for the batch; copy only after it
    const dst = folioAlloc(mem, 0, 0); // to node 0
    folioCopyContents(mem, dst, src);
    folioSetMapping(mem, dst, PAGE_MAPPING_ANON, folioRawMapping(mem, src)!);
    folioSetIndex(mem, dst, folioIndex(mem, src));
    yield* vm.removeMigrationPtes(src, dst, false); // every mapping now points at dst
    locks.folioUnlock(src);
    if (anonVma !== null) vm.putAnonVma(anonVma);
    folioPut(mem, src); // freed
    folioPut(mem, dst); // the mappings hold the rest
  });

  rt.run();
  vm.assertConsistent({ quiescent: true }); // mapcounts, refcounts, rmap reachability, TLBs
  log.push(vm.tlbStats.shootdowns, vm.tlbStats.ipisSent);

  expect(log).toEqual([42, 1, 1]);
});
