import { createPhysicalMemory, folioGet, folioPut } from '@mmsim/folio';
import { PageLockTable } from '@mmsim/page-lock';
import { TTU_BATCH_FLUSH, VirtualMemory } from '@mmsim/rmap';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { type BenchResult, opsPerSecond } from './measure.js';

/**
 * One round trip of the rmap side of a migration, `n` times: lock the folio, unmap every
 * mapping into migration entries (`tryToMigrate` with TTU_BATCH_FLUSH), flush, and
 * restore them (`removeMigrationPtes(src, src)`, the undo path), so that the round costs
 * two rmap walks and no allocation or copy. `mappers` processes map the page: one owner
 * and `mappers - 1` forked children sharing it copy-on-write.
 */
function unmapRemap(n: number, mappers: number): void {
  const rt = new Runtime({ cpus: 2 });
  const mem = createPhysicalMemory({ nodes: [{ pages: 8192 }] });
  const locks = new PageLockTable(rt, mem);
  const vm = new VirtualMemory(rt, mem, locks, new VmStat(1));
  const owner = vm.createProcess('owner');
  const addr = vm.mmap(owner, { length: 4096 });
  rt.spawn('bench', 1, function* (): KernelGen {
    yield* vm.userWrite(owner, addr, 1);
    for (let i = 1; i < mappers; i++) yield* vm.fork(owner);
    const folio = vm.followPage(owner, addr);
    if (vm.folioMapcount(folio) !== mappers) throw new Error('unexpected mapcount');
    folioGet(mem, folio);
    for (let i = 0; i < n; i++) {
      if (!locks.folioLockFast(folio, 'bench')) yield* locks.folioLockContended(folio, 'bench');
      yield* vm.tryToMigrate(folio, TTU_BATCH_FLUSH);
      vm.tryToUnmapFlush();
      yield* vm.removeMigrationPtes(folio, folio, false);
      locks.folioUnlock(folio);
    }
    folioPut(mem, folio);
  });
  const result = rt.run();
  if (result.status !== 'completed') throw new Error(`rmap bench ended as ${result.status}`);
}

export function rmapBenchmarks(): BenchResult[] {
  return [1, 64].map((mappers) => {
    const r = opsPerSecond((n) => unmapRemap(n, mappers), 300, 3);
    return {
      name: `rmap.unmap_remap_${mappers}_mappers_per_sec`,
      value: r.opsPerSec,
      unit: 'rounds/s',
      better: 'higher' as const,
      description: `folio lock + tryToMigrate(TTU_BATCH_FLUSH) + tryToUnmapFlush + removeMigrationPtes back to the same folio + unlock, for an anon page mapped by ${mappers} process(es) (${mappers === 1 ? 'one' : 'a parent and 63 forked children, copy-on-write'}); includes building the processes once per sample.`,
      detail: { ops: r.ops, bestMs: r.bestMs, mappers },
    };
  });
}
