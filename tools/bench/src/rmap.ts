import { createPhysicalMemory, type Folio, folioGet, folioPut, pfnFolio } from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, TTU_BATCH_FLUSH, VirtualMemory } from '@mmsim/rmap';
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

const WALK_FOLIOS = 512;

/**
 * The two rmap walks of a migration as the migrate core's uncontended path runs them, for
 * `rounds` rounds over the 512 singly-mapped order-0 anon folios of the migrate bench's
 * set-up: per folio `tryToMigrateUncontended(TTU_BATCH_FLUSH)`, `tryToUnmapFlush` and
 * `removeMigrationPtesUncontended(folio, folio)`, folio locked and referenced. Returns the
 * best round's nanoseconds per folio (set-up not timed).
 */
function uncontendedWalks(rounds: number): number {
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 4096 }] });
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  const mm = vm.createProcess('walks');
  const addr = vm.mmap(mm, { length: WALK_FOLIOS * PAGE_SIZE });
  let bestNs = Number.POSITIVE_INFINITY;
  rt.spawn('bench', 0, function* (): KernelGen {
    const folios: Folio[] = [];
    for (let i = 0; i < WALK_FOLIOS; i++) {
      yield* vm.userWrite(mm, addr + i * PAGE_SIZE, i);
      folios.push(pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE)));
    }
    yield* lru.lruAddDrainAll();
    for (const folio of folios) {
      folioGet(mem, folio);
      if (!locks.folioLockFast(folio, 'bench')) throw new Error('folio lock contended');
    }
    for (let round = 0; round < rounds; round++) {
      const start = process.hrtime.bigint();
      for (const folio of folios) {
        if (!vm.tryToMigrateUncontended(folio, TTU_BATCH_FLUSH)) throw new Error('walk declined');
        vm.tryToUnmapFlush();
        if (!vm.removeMigrationPtesUncontended(folio, folio, false)) {
          throw new Error('walk declined');
        }
      }
      const ns = Number(process.hrtime.bigint() - start);
      if (ns < bestNs) bestNs = ns;
    }
    for (const folio of folios) {
      locks.folioUnlock(folio);
      folioPut(mem, folio);
    }
  });
  const result = rt.run();
  if (result.status !== 'completed') throw new Error(`rmap walk bench ended as ${result.status}`);
  return bestNs / WALK_FOLIOS;
}

export function rmapBenchmarks(): BenchResult[] {
  uncontendedWalks(20); // warm-up
  const rounds = 200;
  const nsPerFolio = uncontendedWalks(rounds);
  const walks: BenchResult = {
    name: 'rmap.uncontended_walks_512_folios_per_sec',
    value: 1e9 / nsPerFolio,
    unit: 'folios/s',
    better: 'higher',
    description: `Both rmap walks of a migration on the uncontended path (tryToMigrateUncontended with TTU_BATCH_FLUSH, tryToUnmapFlush, removeMigrationPtesUncontended back to the same folio) of 512 singly-mapped order-0 anon folios, folio locked; best of ${rounds} rounds.`,
    detail: { nsPerFolio, rounds, folios: WALK_FOLIOS },
  };
  return [walks, ...unmapRemapBenchmarks()];
}

function unmapRemapBenchmarks(): BenchResult[] {
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
