import {
  createPhysicalMemory,
  FolioList,
  folioGet,
  folioNrPages,
  folioPut,
  pfnFolio,
} from '@mmsim/folio';
import { ShadowMemory } from '@mmsim/kernel';
import { LruVecs } from '@mmsim/lru';
import { MIGRATE_ASYNC, MigrateCore, MR_SYSCALL } from '@mmsim/migrate';
import { PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, VirtualMemory } from '@mmsim/rmap';
import { dropMmTlbs, mutableMm } from '@mmsim/rmap/internal';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { type BenchResult, liveBytes } from './measure.js';

/**
 * The memory figures: heap + typed-array bytes per mapped base page, in total and per
 * structure, and the peak of a 64 GiB machine.
 *
 * The machine: two nodes, the process's pages fill node 0 and then node 1, every page
 * mapped and touched (written once, so each has a TLB entry and a shadow word), with 2,048
 * spare frames per node and, on node 1, room for the 1% a migration pass moves there. So
 * there is about one frame per mapped page: the memmap is counted per frame of a machine
 * the process fills, not of one mostly free. The shadow memory is the integrity check's
 * (`ShadowMemory` of @mmsim/kernel), fed as the kernel's actors feed it: one word per
 * written page.
 *
 * Method: `liveBytes()` (heap used + ArrayBuffer backing stores after two forced full
 * collections; node --expose-gc) is read after each stage of building the machine, so each
 * structure's bytes are the growth of its stage: memmap (createPhysicalMemory), page locks
 * (PageLockTable), LRU (LruVecs), then every page written and the lru_add batches drained.
 * The growth of that last stage is split by taking its structures away one at a time once
 * the figure is read: the TLB entries (`dropMmTlbs`), the shadow memory (dropped), the page
 * tables (the mm's tables dropped); what stays is the rmap side (the VMA and anon_vma, the
 * folios' mapping ids) with the Runtime, VmStat and VirtualMemory themselves. The parts add
 * up to the total exactly. Bytes per page are over the mapped pages.
 */
interface MemoryFigures {
  readonly pages: number;
  readonly frames: number;
  readonly total: number;
  readonly parts: Record<string, number>;
  /** Highest heap used + array buffers sampled (no forced collection) over the run. */
  readonly peak: number;
  /** Wall seconds of the whole run. */
  readonly seconds: number;
  /** Folios migrated by the 1% pass (0 when not run). */
  readonly migrated: number;
}

/** Heap used + array buffers now, without a collection (for the peak). */
function sampleBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Builds the machine for `pages` mapped pages stage by stage and measures it; with
 * `migrate`, then isolates 1% of the pages on node 0 and migrates them to node 1 in one
 * migrate_pages(MIGRATE_ASYNC) call, tracking the peak.
 */
export function measureMachine(pages: number, migrate: boolean): MemoryFigures {
  const t0 = process.hrtime.bigint();
  let peak = 0;
  const sample = () => {
    const b = sampleBytes();
    if (b > peak) peak = b;
  };
  const base = liveBytes();
  const half = Math.ceil(pages / 2);
  const moveCount = migrate ? Math.floor(pages / 100) : 0;
  const node0 = half + 2048;
  const node1 = pages - half + moveCount + 2048;
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const vmstat = new VmStat(2);
  const afterRuntime = liveBytes();
  const mem = createPhysicalMemory({ nodes: [{ pages: node0 }, { pages: node1 }] });
  const afterMemmap = liveBytes();
  sample();
  const locks = new PageLockTable(rt, mem);
  const afterLocks = liveBytes();
  const lru = new LruVecs(rt, mem, vmstat);
  const afterLru = liveBytes();
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  let shadow: ShadowMemory | null = new ShadowMemory(mem, vm);
  const mm = vm.createProcess('memory');
  const addr = vm.mmap(mm, { length: pages * PAGE_SIZE });
  const afterVm = liveBytes();
  let touched = 0;
  let tlbBytes = 0;
  let shadowBytes = 0;
  let pageTableBytes = 0;
  let migrated = 0;
  rt.spawn('memory', 0, function* (): KernelGen {
    const sh = shadow as ShadowMemory;
    for (let i = 0; i < pages; i++) {
      const a = addr + i * PAGE_SIZE;
      yield* vm.userWrite(mm, a, i);
      sh.wrote(sh.userLocation(mm, a), i, 'memory');
      if ((i & 0xffff) === 0) sample();
    }
    yield* lru.lruAddDrainAll();
    sample();
    touched = liveBytes();
    if (!migrate) return;
    const list = new FolioList(mem);
    let found = 0;
    for (let i = 0; i < pages && found < moveCount; i++) {
      const folio = pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE));
      folioGet(mem, folio);
      if (yield* lru.folioIsolateLru(folio)) {
        list.addTail(folio);
        lru.nodeStatModFolio(folio, lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
        found++;
      }
      folioPut(mem, folio);
    }
    sample();
    const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm });
    const r = yield* core.migratePages(
      list,
      core.allocMigrationTarget,
      null,
      { nid: 1, thisNode: true },
      MIGRATE_ASYNC,
      MR_SYSCALL,
    );
    sample();
    if (r.rc !== 0) throw new Error(`the 1% migration pass of ${pages} pages returned ${r.rc}`);
    migrated = found;
  });
  const result = rt.run();
  if (result.status !== 'completed')
    throw new Error(`memory run of ${pages} pages: ${result.status}`);
  sample();
  // Take the last stage apart, structure by structure.
  let before = liveBytes();
  dropMmTlbs(mutableMm(mm));
  let now = liveBytes();
  tlbBytes = before - now;
  before = now;
  shadow = null;
  now = liveBytes();
  shadowBytes = before - now;
  before = now;
  mutableMm(mm).pageTables.clear();
  now = liveBytes();
  pageTableBytes = before - now;
  const total = touched - base;
  const parts: Record<string, number> = {
    memmap: afterMemmap - afterRuntime,
    page_locks: afterLocks - afterMemmap,
    lru: afterLru - afterLocks,
    page_tables: pageTableBytes,
    tlb: tlbBytes,
    shadow: shadowBytes,
    rmap: afterVm - afterLru + (touched - afterVm - tlbBytes - shadowBytes - pageTableBytes),
    runtime: afterRuntime - base,
  };
  return {
    pages,
    frames: node0 + node1,
    total,
    parts,
    peak,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    migrated,
  };
}

const PART_DESCRIPTIONS: Record<string, string> = {
  memmap: 'the memmap (struct page arrays of every frame)',
  page_locks: 'the page-lock table (PG_locked / PG_writeback owners per frame)',
  lru: 'the LRU state (per-frame bookkeeping, lruvecs, batches)',
  page_tables: 'the page tables (one typed array of 512 PTEs and a lock per 2 MiB)',
  tlb: 'the TLB entries (every translation cached until flushed)',
  shadow: 'the shadow memory of the integrity check (one word per written page)',
  rmap: 'the rmap side: VirtualMemory, the mm, VMA, anon_vma and mapping table',
  runtime: 'the Runtime and VmStat',
};

function figures(r: MemoryFigures): BenchResult[] {
  const out: BenchResult[] = [
    {
      name: 'memory.heap_bytes_per_mapped_base_page',
      value: r.total / r.pages,
      unit: 'bytes',
      better: 'lower',
      description: `Heap + typed-array bytes per base page with ${r.pages.toLocaleString('en')} anon pages mapped and touched by one process, on a machine it fills (${r.frames.toLocaleString('en')} frames on two nodes): memmap, page locks, LRU, page tables, TLB, rmap state and the integrity check's shadow memory.`,
      detail: { pages: r.pages, frames: r.frames, bytes: r.total },
    },
  ];
  for (const [part, bytes] of Object.entries(r.parts)) {
    out.push({
      name: `memory.${part}_bytes_per_page`,
      value: bytes / r.pages,
      unit: 'bytes',
      better: 'lower',
      description: `Bytes per mapped base page of ${PART_DESCRIPTIONS[part]}, in memory.heap_bytes_per_mapped_base_page.`,
      detail: { pages: r.pages, bytes },
    });
  }
  return out;
}

/** The `memory` suite: the 1,048,576-page machine. */
export function memoryBenchmarks(): BenchResult[] {
  measureMachine(4096, false); // warm-up
  return figures(measureMachine(1_048_576, false));
}

/**
 * The `memory-16m` suite: 16,777,216 pages (64 GiB) mapped and touched, one migration
 * pass of 1% of them. Run on its own (`pnpm bench --only memory-16m`): it needs
 * `--max-old-space-size=4096` (the bench script passes it) and takes a few minutes.
 */
export function memory16mBenchmarks(): BenchResult[] {
  const r = measureMachine(16_777_216, true);
  const rss = process.resourceUsage().maxRSS * 1024;
  return [
    {
      name: 'memory.16m_pages_peak_heap_bytes',
      value: r.peak,
      unit: 'bytes',
      better: 'lower',
      description: `Peak heap used + array buffers (sampled every 65,536 pages and between stages) of a 64 GiB machine: 16,777,216 anon pages mapped and touched by one process (${r.frames.toLocaleString('en')} frames), then ${r.migrated.toLocaleString('en')} of them (1%) migrated to the other node in one migrate_pages(MIGRATE_ASYNC) call, v6.3.`,
      detail: {
        pages: r.pages,
        frames: r.frames,
        migrated: r.migrated,
        maxRssBytes: rss,
        bytesPerMappedPage: r.total / r.pages,
        seconds: r.seconds,
      },
    },
    {
      name: 'memory.16m_pages_heap_bytes_per_mapped_base_page',
      value: r.total / r.pages,
      unit: 'bytes',
      better: 'lower',
      description:
        'Heap + typed-array bytes per base page of the 64 GiB machine after every page is mapped and touched (before the migration pass).',
      detail: { pages: r.pages, ...r.parts },
    },
  ];
}
