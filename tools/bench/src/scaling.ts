import {
  createPhysicalMemory,
  FolioList,
  folioGet,
  folioNrPages,
  folioPut,
  pfnFolio,
} from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { MIGRATE_ASYNC, MigrateCore, MR_SYSCALL } from '@mmsim/migrate';
import { PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, VirtualMemory } from '@mmsim/rmap';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { type BenchResult, liveBytes } from './measure.js';

const SIZES = [1024, 65_536, 1_048_576];

/**
 * Pages of the warm-up run: enough folios (16 batches) for V8 to finish tiering up every
 * function on the migration path before the first timed run; 1,024 left some 60 functions
 * still being optimised during the timed 1K run.
 */
const WARM_UP_PAGES = 8192;

/**
 * The warm-up machine, kept alive until the suite ends. V8 holds the hidden classes (maps)
 * of class instances only weakly from their constructor's transition tree: once the last
 * Runtime, Mm, Vma, RwSemaphore, ... of a machine dies, the forced gc() of `liveBytes`
 * frees those maps, every optimised function that checks them is thrown away ("weak
 * objects") and the next machine, with fresh maps, runs in the interpreter until it is
 * hot again: a fixed cost of about 100 us per folio of the 1K run. One live instance of
 * each class keeps the maps. This machine is constant across the sizes, so it cancels
 * out of the bytes-per-page difference; each timed size still builds a fresh machine.
 */
let shapeAnchor: object | null = null;

/**
 * One process maps and touches `pages` order-0 anon pages on node 0; they are isolated
 * and migrated to node 1 with MIGRATE_ASYNC in one migrate_pages call (batches of 512),
 * v6.3. Returns wall ns per migrated folio (migration only), and the heap + typed-array
 * bytes per mapped base page measured before the migration.
 */
function migrateAll(pages: number) {
  const before = liveBytes();
  const nodePages = Math.max(4096, pages + 2048);
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const mem = createPhysicalMemory({ nodes: [{ pages: nodePages }, { pages: nodePages }] });
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm });
  const mm = vm.createProcess('scale');
  const addr = vm.mmap(mm, { length: pages * PAGE_SIZE });
  let mappedBytes = 0;
  let ns = 0;
  let rc = -1;
  rt.spawn('scale', 0, function* (): KernelGen {
    for (let i = 0; i < pages; i++) yield* vm.userWrite(mm, addr + i * PAGE_SIZE, i);
    yield* lru.lruAddDrainAll();
    mappedBytes = liveBytes() - before;
    const list = new FolioList(mem);
    for (let i = 0; i < pages; i++) {
      const folio = pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE));
      folioGet(mem, folio);
      if (yield* lru.folioIsolateLru(folio)) {
        list.addTail(folio);
        lru.nodeStatModFolio(folio, lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
      }
      folioPut(mem, folio);
    }
    const start = process.hrtime.bigint();
    const r = yield* core.migratePages(
      list,
      core.allocMigrationTarget,
      null,
      { nid: 1, thisNode: true },
      MIGRATE_ASYNC,
      MR_SYSCALL,
    );
    ns = Number(process.hrtime.bigint() - start);
    rc = r.rc;
  });
  const result = rt.run();
  if (result.status !== 'completed' || rc !== 0)
    throw new Error(`scaling run of ${pages} pages failed (rc ${rc})`);
  return {
    nsPerFolio: ns / pages,
    bytesPerMappedPage: mappedBytes / pages,
    machine: { rt, mem, vmstat, locks, lru, vm, core, mm },
  };
}

export function scalingBenchmarks(): BenchResult[] {
  const results: BenchResult[] = [];
  let bytesAtMillion = 0;
  // Warm-up: the first run pays for JIT compilation; its machine is the shape anchor. The
  // second pays for what V8 specialised to the only machine so far and must generalise
  // once a second one exists (constant fields, call targets: "code dependencies" deopts).
  shapeAnchor = migrateAll(WARM_UP_PAGES).machine;
  migrateAll(WARM_UP_PAGES);
  for (const pages of SIZES) {
    const r = migrateAll(pages);
    if (pages === 1_048_576) bytesAtMillion = r.bytesPerMappedPage;
    results.push({
      name: `scaling.migrate_async_${pages}_pages_ns_per_folio`,
      value: r.nsPerFolio,
      unit: 'ns/folio',
      better: 'lower',
      description: `Wall ns per folio of one migrate_pages(MIGRATE_ASYNC) call moving ${pages} singly-mapped order-0 anon pages between nodes (v6.3); it should stay flat as the machine grows.`,
      // This machine is twice the mapped memory (every page moves to node 1): its bytes per
      // mapped page are a detail here; the memory figures come from the `memory` suite.
      detail: pages === 1_048_576 ? { pages, heapBytesPerMappedPage: bytesAtMillion } : { pages },
    });
  }
  shapeAnchor = null;
  return results;
}
