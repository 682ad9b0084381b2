import {
  createPhysicalMemory,
  FolioList,
  folioGet,
  folioNrPages,
  folioPut,
  pfnFolio,
} from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { PageLockTable } from '@mmsim/page-lock';
import { VirtualMemory } from '@mmsim/rmap';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { expect, it } from 'vitest';
import { formatMigrateEvent, MIGRATE_SYNC, MigrateCore, MR_SYSCALL } from '../src/index.js';

it('the README example runs as printed', () => {
  const out: unknown[][] = [];
  const log = (...args: unknown[]) => out.push(args);
  // --- the README example, with console.log -> log ---
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 4096 }] });
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru });
  const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm });
  rt.trace.on('mm_migrate_pages', (e) => log(formatMigrateEvent(e)));

  const mm = vm.createProcess('app');
  const addr = vm.mmap(mm, { length: 16 * 4096 });

  rt.spawn('move_pages', 0, function* (): KernelGen {
    for (let i = 0; i < 16; i++) yield* vm.userWrite(mm, addr + i * 4096, 100 + i);
    yield* lru.lruCacheDisable();
    const list = new FolioList(mem);
    for (let i = 0; i < 16; i++) {
      const folio = pfnFolio(mem, vm.followPage(mm, addr + i * 4096));
      folioGet(mem, folio);
      if (yield* lru.folioIsolateLru(folio)) {
        list.addTail(folio);
        lru.nodeStatModFolio(folio, lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
      }
      folioPut(mem, folio);
    }
    const { rc, stats } = yield* core.migratePages(
      list,
      core.allocMigrationTarget,
      null,
      { nid: 1, thisNode: true },
      MIGRATE_SYNC,
      MR_SYSCALL,
    );
    if (rc !== 0) yield* core.putbackMovablePages(list);
    lru.lruCacheEnable();
    log(rc, stats.nrSucceeded);
    log(yield* vm.userRead(mm, addr + 5 * 4096));
  });
  rt.run();
  // ---
  expect(out).toEqual([
    [
      'nr_succeeded=16 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset',
    ],
    [0, 16],
    [105],
  ]);
});
