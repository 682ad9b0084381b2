import {
  allocPfn,
  folioAlloc,
  isMigrateCmaPage,
  isZoneMovablePage,
  MIGRATE_CMA,
  pfnFolio,
  setPageblockMigratetype,
} from '@mmsim/folio';
import { createKernel, type Kernel, type KernelConfig } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_LONGTERM_PIN } from '@mmsim/migrate';
import {
  HPAGE_SIZE,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_PRIVATE,
  type MmView,
  PAGE_SIZE,
} from '@mmsim/rmap';
import {
  EINVAL,
  ENOMEM,
  type KernelGen,
  MmsimError,
  NodeStat,
  type Task,
  VmEvent,
} from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  CompactControl,
  compactMemory,
  compactZone,
  FOLL_LONGTERM,
  FOLL_WRITE,
  IB_ACCESS_LOCAL_WRITE,
  ibUmemGet,
  ibUmemRelease,
  longtermPin,
  longtermPinResult,
  longtermPinStats,
  onCompactionSkip,
  pinUserPages,
  unpinUserPages,
} from '../src/index.js';

/** One node of 2048 pages whose top 1024 are ZONE_MOVABLE; 3 CPUs. */
function machine(nodes: KernelConfig['nodes'] = [{ pages: 2048, movablePages: 1024 }]): Kernel {
  return createKernel({ nodes, cpusPerNode: 3, variant: 'v6.3', zeroPage: false });
}

/** Maps and writes `n` pages (value 100 + i), drains the LRU batches. */
function* fill(k: Kernel, mm: MmView, addr: number, n: number): KernelGen {
  for (let i = 0; i < n; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 100 + i);
  yield* k.lru.lruAddDrainAll();
}

function pfnsOf(k: Kernel, mm: MmView, addr: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => k.vm.followPage(mm, addr + i * PAGE_SIZE));
}

function migrateStarts(k: Kernel): Array<{ mode: number; reason: number }> {
  const starts: Array<{ mode: number; reason: number }> = [];
  k.rt.trace.on('mm_migrate_pages_start', (e) => {
    starts.push(e.fields as { mode: number; reason: number });
  });
  return starts;
}

describe('longterm pinning: pin_user_pages(FOLL_LONGTERM) (mm/gup.c, 6.3)', () => {
  it('migrates ZONE_MOVABLE pages to ZONE_NORMAL (MIGRATE_SYNC, MR_LONGTERM_PIN) and pins them there after an -EAGAIN retry', () => {
    const k = machine();
    const starts = migrateStarts(k);
    const mm = k.createProcess('p');
    const n = 8;
    const addr = k.vm.mmap(mm, { length: n * PAGE_SIZE });
    const stats = longtermPinStats();
    const pages: number[] = [];
    let before: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, n);
      before = pfnsOf(k, mm, addr, n);
      expect(before.every((pfn) => isZoneMovablePage(k.mem, pfn))).toBe(true);
      const rc = yield* pinUserPages(k, mm, addr, n, FOLL_LONGTERM | FOLL_WRITE, pages, stats);
      expect(rc).toBe(n);
      for (let i = 0; i < n; i++) {
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(100 + i);
      }
    });
    k.run();
    expect(pages).toEqual(pfnsOf(k, mm, addr, n));
    expect(pages.every((pfn) => !isZoneMovablePage(k.mem, pfn))).toBe(true);
    expect(pages.every((pfn) => k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn)))).toBe(true);
    expect(before.some((pfn) => pages.includes(pfn))).toBe(false);
    expect(stats).toEqual({
      attempts: 2,
      collected: n,
      isolated: n,
      migrated: n,
      backoffs: 0,
      migrateFailed: 0,
    });
    expect(starts).toEqual([{ mode: MIGRATE_SYNC, reason: MR_LONGTERM_PIN }]);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(n);
    // the first pass's pins were dropped before the migration, the second pass's stand
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(2 * n);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(n);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
  });

  it('leaves ZONE_NORMAL pages where they are: one pass, no migration', () => {
    const k = machine([{ pages: 2048 }]);
    const starts = migrateStarts(k);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const stats = longtermPinStats();
    const pages: number[] = [];
    let before: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 4);
      before = pfnsOf(k, mm, addr, 4);
      expect(yield* pinUserPages(k, mm, addr, 4, FOLL_LONGTERM, pages, stats)).toBe(4);
    });
    k.run();
    expect(pages).toEqual(before);
    expect(stats).toEqual({
      attempts: 1,
      collected: 0,
      isolated: 0,
      migrated: 0,
      backoffs: 0,
      migrateFailed: 0,
    });
    expect(starts).toEqual([]);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(4);
  });

  it('pins ZONE_MOVABLE pages in place without FOLL_LONGTERM', () => {
    const k = machine();
    const starts = migrateStarts(k);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const pages: number[] = [];
    let before: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 4);
      before = pfnsOf(k, mm, addr, 4);
      expect(yield* pinUserPages(k, mm, addr, 4, FOLL_WRITE, pages)).toBe(4);
    });
    k.run();
    expect(pages).toEqual(before);
    expect(pages.every((pfn) => isZoneMovablePage(k.mem, pfn))).toBe(true);
    expect(starts).toEqual([]);
  });

  it('moves pages out of a MIGRATE_CMA pageblock, to a block that is not CMA', () => {
    const k = machine([{ pages: 2048 }]);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const pages: number[] = [];
    let before: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 4);
      before = pfnsOf(k, mm, addr, 4);
      for (const pfn of before) setPageblockMigratetype(k.mem, pfn, MIGRATE_CMA);
      expect(yield* pinUserPages(k, mm, addr, 4, FOLL_LONGTERM | FOLL_WRITE, pages)).toBe(4);
      for (let i = 0; i < 4; i++) {
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(100 + i);
      }
    });
    k.run();
    expect(before.every((pfn) => isMigrateCmaPage(k.mem, pfn))).toBe(true);
    expect(pages.some((pfn) => isMigrateCmaPage(k.mem, pfn))).toBe(false);
    expect(pages).toEqual(pfnsOf(k, mm, addr, 4));
  });

  it('fails with -ENOMEM and holds no pin when ZONE_NORMAL has no room; the pages stay mapped and intact', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const pages: number[] = [1];
    let before: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 4);
      before = pfnsOf(k, mm, addr, 4);
      // kernel allocations take every ZONE_NORMAL page
      while (folioAlloc(k.mem, 0, 0, { movable: false }) >= 0);
      const rc = yield* pinUserPages(k, mm, addr, 4, FOLL_LONGTERM | FOLL_WRITE, pages);
      expect(rc).toBe(-ENOMEM);
      for (let i = 0; i < 4; i++) {
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(100 + i);
      }
    });
    k.run();
    expect(pages).toEqual([]);
    expect(pfnsOf(k, mm, addr, 4)).toEqual(before);
    expect([...mm.pins]).toEqual([]);
    expect(before.some((pfn) => k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn)))).toBe(false);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(4);
  });

  it('splits a THP whose whole-folio target cannot be found and migrates its pages (the split retry of migrate_pages)', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 512 * PAGE_SIZE, hugepage: true });
    const pages: number[] = [];
    let folio = -1;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 7);
      yield* k.vm.userWrite(mm, addr + 300 * PAGE_SIZE, 9);
      yield* k.lru.lruAddDrainAll();
      folio = pfnFolio(k.mem, k.vm.followPage(mm, addr));
      // ZONE_NORMAL keeps plenty of pages but no free order-9 block
      expect(allocPfn(k.mem, 256)).toBe(256);
      expect(allocPfn(k.mem, 768)).toBe(768);
      const rc = yield* pinUserPages(k, mm, addr, 512, FOLL_LONGTERM | FOLL_WRITE, pages);
      expect(rc).toBe(512);
      expect(yield* k.vm.userRead(mm, addr)).toBe(7);
      expect(yield* k.vm.userRead(mm, addr + 300 * PAGE_SIZE)).toBe(9);
    });
    k.run();
    expect(isZoneMovablePage(k.mem, folio)).toBe(true);
    expect(k.vmstat.vmEvent(VmEvent.THP_MIGRATION_SPLIT)).toBe(1);
    expect(pages.every((pfn) => !isZoneMovablePage(k.mem, pfn))).toBe(true);
    expect(pages).toEqual(pfnsOf(k, mm, addr, 512));
  });

  it('unpin_user_pages drops every pin (NR_FOLL_PIN_RELEASED) and the pages can move again', () => {
    const k = machine([{ pages: 2048 }]);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const pages: number[] = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 2);
      expect(yield* pinUserPages(k, mm, addr, 2, FOLL_LONGTERM, pages)).toBe(2);
      yield* unpinUserPages(k, mm, pages);
    });
    k.run();
    expect(pages.some((pfn) => k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn)))).toBe(false);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(2);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(2);
  });

  it('rejects bad arguments with a typed error', () => {
    const bad: Array<[number, number, number]> = [
      [1, 1, FOLL_LONGTERM],
      [0, 0, FOLL_LONGTERM],
      [0, 1, 0x2], // FOLL_GET is not for pin_user_pages
    ];
    for (const [off, n, f] of bad) {
      const k = machine();
      const mm = k.createProcess('p');
      const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
      k.rt.spawn('bad', 0, function* (): KernelGen {
        yield* pinUserPages(k, mm, addr + off, n, f, []);
      });
      expect(() => k.run()).toThrow(MmsimError);
    }
  });

  it('is refused by compaction once it stands: the pinned pages stay, reported as pinned', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const pages: number[] = [];
    const skipped: Array<{ pfn: number; reason: string }> = [];
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 4);
      expect(yield* pinUserPages(k, mm, addr, 4, FOLL_LONGTERM | FOLL_WRITE, pages)).toBe(4);
      yield* k.lru.lruAddDrainAll();
      const cc = new CompactControl(k, {
        order: -1,
        mode: MIGRATE_SYNC,
        nid: 0,
        ignore_skip_hint: true,
        whole_zone: true,
      });
      onCompactionSkip(cc, (s) => skipped.push(s));
      yield* compactZone(k, cc);
    });
    k.run();
    expect(pages).toEqual(pfnsOf(k, mm, addr, 4));
    for (const pfn of pages) expect(skipped).toContainEqual({ pfn, reason: 'pinned' });
  });

  it('keeps the pin and the data right under a writer and compact_memory', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const n = 8;
    const addr = k.vm.mmap(mm, { length: n * PAGE_SIZE });
    const result = longtermPinResult();
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, n);
      ready = true;
    });
    const pin = longtermPin(k, { cpu: 0, mm, addr, pages: n, result });
    k.spawn({
      ...pin,
      *body(task) {
        while (!ready) yield;
        yield* pin.body(task);
      },
    });
    k.rt.spawn('writer', 1, function* (): KernelGen {
      while (!ready) yield;
      for (let r = 0; r < 3; r++) {
        for (let i = 0; i < n; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 1000 * r + i);
      }
    });
    k.spawn(compactMemory(k, { cpu: 2, writes: 2 }));
    k.run();
    expect(result.rc).toBe(n);
    expect(result.pages).toEqual(pfnsOf(k, mm, addr, n));
    expect(result.pages.every((pfn) => !isZoneMovablePage(k.mem, pfn))).toBe(true);
  });
});

/**
 * A scheduler as unfair as PCT can be: the task named `favourite` runs whenever it can;
 * the others only when it cannot (asleep or ended).
 */
function favouring(favourite: string) {
  return {
    name: `favour-${favourite}`,
    choose(eligible: readonly Task[]): Task {
      return eligible.find((t) => t.name === favourite) ?? eligible[0]!;
    },
  };
}

describe('longterm pinning: a folio isolated by another task (the unbounded -EAGAIN loop of __gup_longterm_locked)', () => {
  /**
   * `isolator` (cpu 1) takes one buffer folio off the LRU, holds it for a few scheduling
   * points and puts it back, as a compaction scanner does around its migrate_pages batch;
   * the driver (cpu 0) pins the buffer meanwhile, under a scheduler that always prefers it.
   */
  function heldFolioRun() {
    const k = createKernel({
      nodes: [{ pages: 2048, movablePages: 1024 }],
      cpusPerNode: 3,
      variant: 'v6.3',
      zeroPage: false,
      strategy: favouring('driver'),
      maxSteps: 20_000,
    });
    const mm = k.createProcess('p');
    const n = 4;
    const addr = k.vm.mmap(mm, { length: n * PAGE_SIZE });
    const stats = longtermPinStats();
    const pages: number[] = [];
    let rc: number | null = null;
    let held = -1;
    let released = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, n);
      held = k.vm.followPage(mm, addr);
      expect(yield* k.lru.folioIsolateLru(held)).toBe(true);
      k.rt.spawn('driver', 0, function* (): KernelGen {
        rc = yield* pinUserPages(k, mm, addr, n, FOLL_LONGTERM | FOLL_WRITE, pages, stats);
      });
      k.rt.spawn('isolator', 1, function* (): KernelGen {
        for (let i = 0; i < 3; i++) yield;
        yield* k.lru.folioPutbackLru(held);
        released = true;
      });
    });
    const result = k.run();
    return { k, mm, addr, n, stats, pages, result, rc: () => rc, released: () => released };
  }

  it('backs off after a pass that could isolate nothing, so the isolator runs and the pin then stands out of ZONE_MOVABLE', () => {
    const r = heldFolioRun();
    expect(r.result.status).toBe('completed');
    expect(r.released()).toBe(true);
    expect(r.rc()).toBe(r.n);
    expect(r.pages).toEqual(pfnsOf(r.k, r.mm, r.addr, r.n));
    expect(r.pages.every((pfn) => !isZoneMovablePage(r.k.mem, pfn))).toBe(true);
    // pass 1 migrates the three free folios; pass 2 finds the held one and cannot isolate it
    // (a backoff); once it is back a later pass migrates it; the last pass stands
    expect(r.stats.backoffs).toBeGreaterThanOrEqual(1);
    expect(r.stats.migrated).toBe(r.n);
    expect(r.stats.attempts).toBe(r.stats.backoffs + 3);
  });

  it('does not back off while every unpinnable folio can be isolated (the kernel retries at once)', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const n = 4;
    const addr = k.vm.mmap(mm, { length: n * PAGE_SIZE });
    const stats = longtermPinStats();
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, n);
      expect(yield* pinUserPages(k, mm, addr, n, FOLL_LONGTERM, [], stats)).toBe(n);
    });
    expect(k.run().status).toBe('completed');
    expect(stats.backoffs).toBe(0);
    expect(stats.attempts).toBe(2);
  });
});

describe('ib_umem_get (drivers/infiniband/core/umem.c, 6.3)', () => {
  it('registers a buffer with a longterm pin out of ZONE_MOVABLE and releases it', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 3 * PAGE_SIZE });
    k.rt.spawn('rdma', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 3);
      expect(yield* ibUmemGet(k, mm, addr, 0, IB_ACCESS_LOCAL_WRITE)).toBe(-EINVAL);
      // 100 bytes into the first page up to 2 bytes into the third: three pages
      const umem = yield* ibUmemGet(k, mm, addr + 100, 2 * PAGE_SIZE - 98, IB_ACCESS_LOCAL_WRITE);
      if (typeof umem === 'number') throw new Error(`ib_umem_get failed: ${umem}`);
      expect(umem.writable).toBe(true);
      expect(umem.pages).toEqual(pfnsOf(k, mm, addr, 3));
      expect(umem.pages.every((pfn) => !isZoneMovablePage(k.mem, pfn))).toBe(true);
      yield* ibUmemRelease(k, umem);
      expect(umem.pages.some((pfn) => k.vm.folioMaybeDmaPinned(pfn))).toBe(false);
    });
    k.run();
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(6);
  });
});

describe('longterm pinning of hugetlb pages in ZONE_MOVABLE (alloc_hugetlb_folio_nodemask under PF_MEMALLOC_PIN, 6.3)', () => {
  /**
   * One node of 4096 pages, the top 3072 ZONE_MOVABLE, with `pool` hugetlb pages reserved at
   * boot (pfns 512, 1024, 1536, ...: the first in ZONE_NORMAL, the others in ZONE_MOVABLE;
   * the pool hands out the last reserved first). A process maps `mapped` hugetlb pages and
   * writes to each; the first lands in ZONE_MOVABLE.
   */
  function hugeMachine(pool: number, mapped: number) {
    const k = createKernel({
      nodes: [{ pages: 4096, movablePages: 3072, hugetlbPages: pool }],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
      maxSteps: 200_000,
    });
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, {
      length: mapped * HPAGE_SIZE,
      flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
    });
    return { k, mm, addr };
  }

  it('migrates the page to a pinnable pool page, passing over pool pages in ZONE_MOVABLE', () => {
    const { k, mm, addr } = hugeMachine(3, 1);
    const n = HPAGE_SIZE / PAGE_SIZE;
    const stats = longtermPinStats();
    const pages: number[] = [];
    let rc = 0;
    let before = -1;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 77);
      before = pfnFolio(k.mem, k.vm.followPage(mm, addr));
      rc = yield* pinUserPages(k, mm, addr, n, FOLL_LONGTERM | FOLL_WRITE, pages, stats);
      expect(yield* k.vm.userRead(mm, addr)).toBe(77);
    });
    expect(k.run().status).toBe('completed');
    expect(isZoneMovablePage(k.mem, before)).toBe(true);
    expect(rc).toBe(n);
    const after = pfnFolio(k.mem, pages[0]!);
    expect(after).toBe(512);
    expect(isZoneMovablePage(k.mem, after)).toBe(false);
    // one migration, straight to ZONE_NORMAL: the pool's ZONE_MOVABLE page was passed over
    expect(stats.attempts).toBe(2);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(n);
  });

  it('fails with -ENOMEM when no pinnable hugetlb page can be found, instead of migrating within ZONE_MOVABLE forever', () => {
    // pool pfns 512 (ZONE_NORMAL) and 1024 (ZONE_MOVABLE), both mapped: the pool is empty,
    // and ZONE_NORMAL has no free order-9 block for a temporary page (ZONE_MOVABLE has)
    const { k, mm, addr } = hugeMachine(2, 2);
    const n = HPAGE_SIZE / PAGE_SIZE;
    const pages: number[] = [];
    let rc = 0;
    let pinnedPfn = -1;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 5);
      yield* k.vm.userWrite(mm, addr + HPAGE_SIZE, 6);
      pinnedPfn = pfnFolio(k.mem, k.vm.followPage(mm, addr));
      rc = yield* pinUserPages(k, mm, addr, n, FOLL_LONGTERM | FOLL_WRITE, pages);
      expect(yield* k.vm.userRead(mm, addr)).toBe(5);
    });
    const result = k.run();
    expect(result.status).toBe('completed');
    expect(isZoneMovablePage(k.mem, pinnedPfn)).toBe(true);
    expect(rc).toBe(-ENOMEM);
    expect(pages).toEqual([]);
    expect(k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, k.vm.followPage(mm, addr)))).toBe(false);
  });
});
