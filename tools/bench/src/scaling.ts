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
 * The warm-up machines, in order; each migrates all its pages as a timed run does. The
 * first (16 batches) lets V8 tier up the migration path: a single 1K run left some 60
 * functions still being optimised during the timed 1K run. The next ones pay for what V8
 * had specialised to the only machine so far and generalises once there are more (call
 * targets and field types: "code dependencies" and "wrong map" deopts), so the timed runs
 * start in the steady state that every later machine sees.
 */
const WARM_UP_PAGES = [8192, 8192, 1024];

/**
 * The first warm-up machine, kept alive until the suite ends. V8 holds the hidden classes
 * (maps) of class instances only weakly, from their constructor's transition tree: once
 * the last Runtime, Mm, Vma, RwSemaphore, ... of a machine dies, the forced gc() of
 * `liveBytes` frees those maps, every optimised function that checks them is thrown away
 * ("weak objects") and the next machine, with fresh maps, runs in the interpreter until it
 * is hot again: a fixed cost of tens of microseconds per folio of the 1K run. One live
 * instance of each class keeps the maps (classes with short-lived instances, such as the
 * folio-list iterator and MigrateStats, hold one in their module). This machine is the
 * same for every size, so it cancels out of the bytes-per-page difference; each timed
 * size still builds a fresh machine.
 */
const shapeAnchor: object[] = [];

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
  // Warm-up: these runs pay for JIT compilation; the first machine is the shape anchor.
  for (const [i, pages] of WARM_UP_PAGES.entries()) {
    const { machine } = migrateAll(pages);
    if (i === 0) shapeAnchor.push(machine);
  }
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
  shapeAnchor.length = 0;
  return results;
}
