import {
  checkPhysicalMemory,
  type Folio,
  folioAlloc,
  folioPut,
  getPageblockMigratetype,
  MIGRATE_CMA,
  MIGRATE_MOVABLE,
  nodeFreeIsolatedPages,
  nodeOfflinePages,
} from '@mmsim/folio';
import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import {
  EINTR,
  FATAL_SIGNAL_SITE,
  type FaultSpec,
  type KernelGen,
  PF_KTHREAD,
  type Task,
} from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  COMPACT_CONTENDED,
  cmaAlloc,
  cmaArea,
  compactionActorStats,
  compactMemory,
  directCompaction,
  kcompactd,
  offlinePages,
  offlineStats,
  wakeupKcompactd,
} from '../src/index.js';

/**
 * The fault site `signal.fatal_signal_pending`: a SIGKILL that arrives at a
 * `fatal_signal_pending(current)` check of a caller of migrate_pages. Forced (probability 1)
 * each check gives the kernel's return code and leaves nothing isolated, locked or
 * referenced; a kernel thread never gets one.
 */
const ALWAYS: Record<string, FaultSpec> = { [FATAL_SIGNAL_SITE]: { probability: 1 } };
const ANON = 48;

/** One node of 2048 pages, two CPUs, `ANON` anonymous pages at `addr`. */
function compactionMachine(): { k: Kernel; mm: MmView; addr: number } {
  const k = createKernel({ nodes: [{ pages: 2048 }], cpusPerNode: 2, variant: 'v6.3' });
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, { length: ANON * PAGE_SIZE });
  return { k, mm, addr };
}

/** Faults in the pages, then holds every free page but every other one of the upper half. */
function* fragment(k: Kernel, mm: MmView, addr: number): KernelGen<Folio[]> {
  yield* touchPages(k, mm, addr, ANON, (i) => 1000 + i);
  yield* k.lru.lruAddDrainAll();
  const held: Folio[] = [];
  for (;;) {
    const f = folioAlloc(k.mem, 0, 0, { thisNode: true });
    if (f < 0) break;
    held.push(f);
  }
  const kept: Folio[] = [];
  for (const f of held) {
    if (f >= 1024 && f % 2 === 0) folioPut(k.mem, f);
    else kept.push(f);
  }
  return kept;
}

function* expectContents(k: Kernel, mm: MmView, addr: number): KernelGen {
  for (let i = 0; i < ANON; i++)
    expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
}

/** Nothing isolated, locked or leaked once every task is done. */
function expectClean(k: Kernel): void {
  expect(k.vm.check({ quiescent: true })).toEqual([]);
  expect(checkPhysicalMemory(k.mem)).toEqual([]);
  expect(nodeFreeIsolatedPages(k.mem, 0)).toBe(0);
}

describe('fault site signal.fatal_signal_pending', () => {
  it('is registered by every runtime and off unless configured', () => {
    const { k } = compactionMachine();
    expect(k.rt.faults.names()).toContain(FATAL_SIGNAL_SITE);
    expect(k.rt.fatalSignalSite.spec).toBe(null);
  });

  it('compact_memory: isolate_migratepages_block sees the signal (-EINTR), compact_zone ends COMPACT_CONTENDED and puts back what it isolated', () => {
    const { k, mm, addr } = compactionMachine();
    const stats = compactionActorStats();
    let task: Task | null = null;
    k.rt.spawn('sh', 0, function* (t: Task): KernelGen {
      task = t;
      const held = yield* fragment(k, mm, addr);
      k.rt.faults.configure(ALWAYS);
      yield* compactMemory(k, { cpu: 0, stats }).body(t);
      yield* expectContents(k, mm, addr);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(stats.results).toEqual([COMPACT_CONTENDED]);
    expect((task as Task | null)?.fatalSignalPending).toBe(true);
    expect(k.rt.fatalSignalSite.injected).toBe(1);
    expectClean(k);
  });

  it('direct compaction: every attempt ends COMPACT_CONTENDED, the allocation fails, nothing leaks', () => {
    const { k, mm, addr } = compactionMachine();
    const stats = compactionActorStats();
    k.rt.spawn('app', 0, function* (t: Task): KernelGen {
      const held = yield* fragment(k, mm, addr);
      k.rt.faults.configure(ALWAYS);
      yield* directCompaction(k, { cpu: 0, nid: 0, order: 2, stats }).body(t);
      yield* expectContents(k, mm, addr);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(stats.runs).toBe(0);
    expect(stats.results.length).toBeGreaterThan(0);
    for (const r of stats.results) expect(r).toBe(COMPACT_CONTENDED);
    expectClean(k);
  });

  it('kcompactd is a kernel thread: the site is never consulted for it and it compacts as without faults', () => {
    const { k, mm, addr } = compactionMachine();
    const stats = compactionActorStats();
    const daemon = kcompactd(k, { cpu: 1, nid: 0, timeouts: 1, stats });
    let kthread: Task | null = null;
    k.rt.spawn('kcompactd0', 1, function* (t: Task): KernelGen {
      kthread = t;
      yield* daemon.body(t);
    });
    k.rt.spawn('app', 0, function* (): KernelGen {
      const held = yield* fragment(k, mm, addr);
      k.rt.faults.configure(ALWAYS);
      wakeupKcompactd(k, 0, 2);
      yield* k.rt.sleepFor(2_000_000_000);
      yield* expectContents(k, mm, addr);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    const t = kthread as Task | null;
    expect(((t?.flags ?? 0) & PF_KTHREAD) !== 0).toBe(true);
    expect(t?.fatalSignalPending).toBe(false);
    expect(stats.runs).toBe(1);
    expect(stats.results).not.toContain(COMPACT_CONTENDED);
    expect(k.rt.fatalSignalSite.calls).toBe(0);
    expectClean(k);
  });

  it('cma_alloc: __alloc_contig_migrate_range returns -EINTR, the range is put back MIGRATE_CMA and unisolated', () => {
    const k = createKernel({
      nodes: [{ pages: 4096 }],
      cpusPerNode: 2,
      cma: [{ base: 1024, pages: 2048 }],
    });
    const mm = k.createProcess('app');
    const pages = 24;
    const a = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
    const cma = cmaArea(k);
    const st = { rounds: 0, migrated: 0, mapped: 0, ret: 0 };
    let ret = 0;
    let first = -1;
    k.rt.spawn('app', 0, function* (): KernelGen {
      yield* touchPages(k, mm, a, pages, (i) => 900 + i);
      yield* k.lru.lruAddDrainAll();
      first = k.vm.followPage(mm, a);
      if (first > cma.base_pfn) {
        expect(yield* cmaAlloc(k, cma, first - cma.base_pfn)).toBe(cma.base_pfn);
      }
      k.rt.faults.configure(ALWAYS);
      ret = yield* cmaAlloc(k, cma, 64, { stats: st });
      for (let i = 0; i < pages; i++)
        expect(yield* k.vm.userRead(mm, a + i * PAGE_SIZE)).toBe(900 + i);
    });
    expect(k.run().status).toBe('completed');
    expect(ret).toBe(-EINTR);
    expect(st.ret).toBe(-EINTR);
    expect(getPageblockMigratetype(k.mem, 1024)).toBe(MIGRATE_CMA);
    expect(k.lru.lruCacheDisabled()).toBe(false);
    expect(k.vm.followPage(mm, a)).toBe(first);
    expectClean(k);
  });

  it('offline_pages: the pass sees the signal (-EINTR, signal backoff), the isolation is undone', () => {
    const k = createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }], cpusPerNode: 2 });
    const mm = k.createProcess('app');
    const pages = 32;
    const a = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
    const st = offlineStats();
    let ret = 0;
    k.rt.spawn('app', 2, function* (): KernelGen {
      yield* touchPages(k, mm, a, pages, (i) => 500 + i);
      yield* k.lru.lruAddDrainAll();
      k.rt.faults.configure(ALWAYS);
      ret = yield* offlinePages(k, 2048, 1024, { stats: st });
      for (let i = 0; i < pages; i++)
        expect(yield* k.vm.userRead(mm, a + i * PAGE_SIZE)).toBe(500 + i);
    });
    expect(k.run().status).toBe('completed');
    expect(ret).toBe(-EINTR);
    expect(st.failure).toBe('signal backoff');
    expect(getPageblockMigratetype(k.mem, 2048)).toBe(MIGRATE_MOVABLE);
    expect(nodeOfflinePages(k.mem, 1)).toBe(0);
    expect(nodeFreeIsolatedPages(k.mem, 1)).toBe(0);
    expect(k.vm.check({ quiescent: true })).toEqual([]);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
  });

  it('off (not configured): compact_memory compacts and never consults the faults stream', () => {
    const { k, mm, addr } = compactionMachine();
    const stats = compactionActorStats();
    k.rt.spawn('sh', 0, function* (t: Task): KernelGen {
      const held = yield* fragment(k, mm, addr);
      yield* compactMemory(k, { cpu: 0, stats }).body(t);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(stats.results).not.toContain(COMPACT_CONTENDED);
    expect(k.rt.fatalSignalSite.calls).toBe(0);
    expectClean(k);
  });
});
