import {
  createPhysicalMemory,
  type Folio,
  FolioList,
  folioGet,
  folioNrPages,
  folioPut,
  pfnFolio,
} from '@mmsim/folio';
import { ISOLATE_LRU_DONE, ISOLATE_LRU_FAILED, ISOLATE_LRU_GENERAL, LruVecs } from '@mmsim/lru';
import { MIGRATE_ASYNC, MigrateCore, MR_SYSCALL, VARIANTS, type VariantName } from '@mmsim/migrate';
import { PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, VirtualMemory } from '@mmsim/rmap';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import type { BenchResult } from './measure.js';

const FOLIOS = 512;

/**
 * Wall-clock cost of migrating one 512-folio MIGRATE_ASYNC batch of singly-mapped order-0
 * anon pages between two nodes with `variant`: each round isolates the folios as
 * move_pages(2) does (folio_isolate_lru, as plain calls where nothing contends, +
 * NR_ISOLATED) and calls migrate_pages(); the pages ping-pong between node 0 and node 1.
 * Setup (process, first touch) is not timed. Returns the best round's folios per second.
 *
 * With `perCall` below 512, each round hands the isolated folios to migrate_pages() in calls
 * of `perCall` folios (front first, the same folios and targets): `perCall` 1 measures what
 * a call costs besides its folios (the explorations' migrators make calls of one or two).
 */
function migrateRounds(variant: VariantName, rounds: number, perCall = FOLIOS) {
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 4096 }] });
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm, variant });
  const mm = vm.createProcess('pmbench');
  const addr = vm.mmap(mm, { length: FOLIOS * PAGE_SIZE });
  let bestNs = Number.POSITIVE_INFINITY;
  let failed = 0;
  rt.spawn('migrate', 0, function* (): KernelGen {
    for (let i = 0; i < FOLIOS; i++) yield* vm.userWrite(mm, addr + i * PAGE_SIZE, i);
    yield* lru.lruAddDrainAll();
    for (let round = 0; round < rounds; round++) {
      const start = process.hrtime.bigint();
      const list = new FolioList(mem);
      for (let i = 0; i < FOLIOS; i++) {
        const folio: Folio = pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE));
        folioGet(mem, folio);
        // folio_isolate_lru as a plain call (lru_lock is a spinlock: nothing sleeps), with a
        // generator only for the part left when its scheduling point or lru_lock contends.
        const state = lru.folioIsolateLruStart(folio);
        let isolated: boolean;
        if (state === ISOLATE_LRU_DONE) isolated = true;
        else if (state === ISOLATE_LRU_FAILED) isolated = false;
        else if (state === ISOLATE_LRU_GENERAL) isolated = yield* lru.folioIsolateLru(folio);
        else isolated = yield* lru.folioIsolateLruFinish(folio, state);
        if (isolated) {
          list.addTail(folio);
          lru.nodeStatModFolio(folio, lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
        }
        folioPut(mem, folio);
      }
      const mtc = { nid: (round + 1) % 2, thisNode: true };
      // The whole list in one call, or `perCall` folios at a time moved off it into `part`.
      const part = perCall >= FOLIOS ? list : new FolioList(mem);
      do {
        if (part !== list) {
          for (let k = 0; k < perCall && !list.isEmpty(); k++) list.moveToTail(list.first(), part);
        }
        const { rc } = yield* core.migratePages(
          part,
          core.allocMigrationTarget,
          null,
          mtc,
          MIGRATE_ASYNC,
          MR_SYSCALL,
        );
        if (rc !== 0) {
          failed += rc;
          yield* core.putbackMovablePages(part);
        }
      } while (part !== list && !list.isEmpty());
      yield* lru.lruAddDrainAll();
      const ns = Number(process.hrtime.bigint() - start);
      if (ns < bestNs) bestNs = ns;
    }
  });
  const result = rt.run();
  if (result.status !== 'completed' || failed > 0) {
    throw new Error(`migrate bench (${variant}) ended as ${result.status} with ${failed} failures`);
  }
  return { foliosPerSec: (FOLIOS / bestNs) * 1e9, nsPerFolio: bestNs / FOLIOS, rounds };
}

/** The variants whose one-folio calls are measured too: the two engines' defaults. */
const PER_CALL_VARIANTS: readonly VariantName[] = ['v6.2', 'v6.3'];

export function migrateBenchmarks(): BenchResult[] {
  const nsPerFolio512 = new Map<VariantName, number>();
  const batches = Object.keys(VARIANTS).map((name) => {
    const variant = name as VariantName;
    migrateRounds(variant, 5); // warm-up
    const r = migrateRounds(variant, 40);
    nsPerFolio512.set(variant, r.nsPerFolio);
    return {
      name: `migrate.async_batch_512_${variant}_folios_per_sec`,
      value: r.foliosPerSec,
      unit: 'folios/s',
      better: 'higher' as const,
      description: `Wall clock of isolating 512 singly-mapped order-0 anon folios and migrate_pages(MIGRATE_ASYNC, MR_SYSCALL) to the other node, variant ${variant}; best of ${r.rounds} rounds.`,
      detail: { nsPerFolio: r.nsPerFolio, rounds: r.rounds, folios: FOLIOS },
    };
  });
  // The same rounds with one migrate_pages() call per folio: what a call costs besides its
  // folio (the set-up and end of migrate_pages and migrate_pages_batch, their generators,
  // lists and statistics), as the explorations' small calls pay it.
  const calls = PER_CALL_VARIANTS.map((variant) => {
    migrateRounds(variant, 5, 1); // warm-up
    const r = migrateRounds(variant, 40, 1);
    const batched = nsPerFolio512.get(variant) ?? r.nsPerFolio;
    return {
      name: `migrate.async_batch_1_${variant}_folios_per_sec`,
      value: r.foliosPerSec,
      unit: 'folios/s',
      better: 'higher' as const,
      description: `As migrate.async_batch_512_${variant}_folios_per_sec, but the 512 isolated folios go to migrate_pages(MIGRATE_ASYNC, MR_SYSCALL) in 512 calls of one folio each; detail.callOverheadNs is the difference per folio from the 512-folio figure of this run (a call's cost besides its folio); best of ${r.rounds} rounds.`,
      detail: {
        nsPerFolio: r.nsPerFolio,
        callOverheadNs: r.nsPerFolio - batched,
        rounds: r.rounds,
        folios: FOLIOS,
        foliosPerCall: 1,
      },
    };
  });
  return [...batches, ...calls];
}
