import {
  checkPhysicalMemory,
  folioAlloc,
  folioNid,
  folioRefCount,
  folioTestHugetlb,
  hugetlbNodeCounters,
  isFreeBuddyPage,
  nodeFreePages,
  PG_hwpoison,
  pageTestFlag,
  pfnFolio,
} from '@mmsim/folio';
import { MADV_DONTNEED, MADV_SOFT_OFFLINE, PAGE_SIZE, PMD_SIZE } from '@mmsim/rmap';
import { EBUSY, EFAULT, EINVAL, EIO, ENXIO, EPERM, type KernelGen, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';

/*
 * Soft offline (soft_offline_page and madvise(MADV_SOFT_OFFLINE), mm/memory-failure.c and
 * mm/madvise.c, Linux 6.3).
 */

function machine(pages = 4096, hugetlbPages = 0): Kernel {
  return createKernel({
    nodes: [
      { pages, hugetlbPages },
      { pages, hugetlbPages: 0 },
    ],
  });
}

function sound(k: Kernel): void {
  expect(k.vm.check()).toEqual([]);
  expect(checkPhysicalMemory(k.mem)).toEqual([]);
  expect(k.lruView.check()).toEqual([]);
}

/** Allocates every free page of `nid` and returns whether `pfn` was among them. */
function buddyHandsOut(k: Kernel, nid: number, pfn: number): boolean {
  for (;;) {
    const f = folioAlloc(k.mem, 0, nid, { thisNode: true });
    if (f < 0) return false;
    if (f === pfn) return true;
  }
}

describe('soft_offline_page', () => {
  it('a free page is taken off the buddy and poisoned; again, it is already poisoned (0, counted once)', () => {
    const k = machine();
    const pfn = 1000;
    const free = nodeFreePages(k.mem, 0);
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.softOfflinePage(pfn)).toBe(0);
      expect(yield* k.softOfflinePage(pfn)).toBe(0);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(1);
    expect(pageTestFlag(k.mem, pfn, PG_hwpoison)).toBe(true);
    expect(isFreeBuddyPage(k.mem, pfn)).toBe(false);
    expect(nodeFreePages(k.mem, 0)).toBe(free - 1);
    sound(k);
    expect(buddyHandsOut(k, 0, pfn)).toBe(false);
  });

  it('-ENXIO beyond the last frame, -EIO in a hole between nodes', () => {
    const k = createKernel({ nodes: [{ pages: 1000 }, { pages: 1000 }] });
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.softOfflinePage(k.mem.maxPfn)).toBe(-ENXIO);
      expect(yield* k.softOfflinePage(1010)).toBe(-EIO);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(0);
  });

  it('a page in use off the LRU (not handlable) is -EIO after the shake_page retries, untouched', () => {
    const k = machine();
    const f = folioAlloc(k.mem, 0, 0) as number;
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.softOfflinePage(f)).toBe(-EIO);
    });
    k.run();
    expect(folioRefCount(k.mem, f)).toBe(1);
    expect(pageTestFlag(k.mem, f, PG_hwpoison)).toBe(false);
  });

  it('a mapped anonymous page migrates (MR_MEMORY_FAILURE) and its old frame is poisoned for good; the data stays', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    let old = -1;
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 50 + i);
      yield* k.lru.lruAddDrainAll();
      old = k.vm.followPage(mm, addr + PAGE_SIZE);
      expect(yield* k.softOfflinePage(old)).toBe(0);
      const now = k.vm.followPage(mm, addr + PAGE_SIZE);
      expect(now).not.toBe(old);
      expect(folioNid(k.mem, now)).toBe(0); // NUMA_NO_NODE: the source's node first
      for (let i = 0; i < 4; i++)
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(50 + i);
      yield* k.vm.userWrite(mm, addr + PAGE_SIZE, 99);
      expect(yield* k.vm.userRead(mm, addr + PAGE_SIZE)).toBe(99);
    });
    k.run();
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(1);
    expect(k.numPoisonedPages).toBe(1);
    expect(pageTestFlag(k.mem, old, PG_hwpoison)).toBe(true);
    expect(folioRefCount(k.mem, old)).toBe(1);
    sound(k);
    expect(buddyHandsOut(k, 0, old)).toBe(false);
  });

  it('a pinned page cannot migrate: -EBUSY, put back on the LRU, not poisoned', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 5);
      yield* k.lru.lruAddDrainAll();
      const pfn = yield* k.vm.pinUserPage(mm, addr, true);
      expect(yield* k.softOfflinePage(pfn)).toBe(-EBUSY);
      expect(pageTestFlag(k.mem, pfn, PG_hwpoison)).toBe(false);
      expect(k.vm.followPage(mm, addr)).toBe(pfn);
      yield* k.lru.lruAddDrainAll(); // putback_lru_page goes through a per-CPU batch
      expect(k.lruView.folioLru(pfn)).not.toBeNull();
      yield* k.vm.unpinUserPage(mm, pfn);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(0);
    sound(k);
  });

  it('a PMD-mapped THP is split first; only the offlined page moves, the rest stay in place', () => {
    const k = machine(8192);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PMD_SIZE, hugepage: true });
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.vm.userWrite(mm, addr + 3 * PAGE_SIZE, 3);
      yield* k.lru.lruAddDrainAll();
      expect(k.vm.lookupPte(mm, addr).level).toBe('pmd');
      const head = k.vm.followPage(mm, addr);
      const target = head + 3;
      expect(yield* k.softOfflinePage(target)).toBe(0);
      expect(k.vm.lookupPte(mm, addr)).toMatchObject({ level: 'pte', pfn: head });
      expect(k.vm.followPage(mm, addr + 3 * PAGE_SIZE)).not.toBe(target);
      expect(pageTestFlag(k.mem, target, PG_hwpoison)).toBe(true);
      expect(yield* k.vm.userRead(mm, addr)).toBe(1);
      expect(yield* k.vm.userRead(mm, addr + 3 * PAGE_SIZE)).toBe(3);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(1);
    sound(k);
  });

  it('a free hugetlb page is dissolved and the page taken off the buddy', () => {
    const k = machine(4096, 2);
    let pooled = -1;
    for (let pfn = 1; pfn < 4096 && pooled < 0; pfn++) {
      if (pfnFolio(k.mem, pfn) < 0 && !isFreeBuddyPage(k.mem, pfn)) pooled = pfn;
    }
    const before = hugetlbNodeCounters(k.mem, 0);
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.softOfflinePage(pooled + 7)).toBe(0);
    });
    k.run();
    expect(hugetlbNodeCounters(k.mem, 0).nr_hugepages).toBe(before.nr_hugepages - 1);
    expect(pageTestFlag(k.mem, pooled + 7, PG_hwpoison)).toBe(true);
    expect(folioTestHugetlb(k.mem, pooled + 7)).toBe(false);
    expect(isFreeBuddyPage(k.mem, pooled + 8)).toBe(true);
    expect(k.numPoisonedPages).toBe(1);
    sound(k);
  });
});

describe('soft_offline_page of a hugetlb page in use', () => {
  it('a hugetlbfs page-cache folio migrates whole, then the source is dissolved and only the page is poisoned', () => {
    const k = machine(4096, 2);
    const file = k.createFile('hugetlbfs');
    const huge = k.migrate.hugetlbAllocActive(0, { thisNode: true });
    expect(huge).toBeGreaterThan(0);
    k.vm.hugetlbAddToPageCache(file, huge, 0);
    const before = hugetlbNodeCounters(k.mem, 0);
    const free = nodeFreePages(k.mem, 0);
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.softOfflinePage(huge + 9)).toBe(0);
    });
    k.run();
    const moved = file.pages.get(0)!;
    expect(moved).not.toBe(huge);
    expect(folioTestHugetlb(k.mem, moved)).toBe(true);
    // pgmigrate_success counts base pages (migrate_hugetlbs adds nr_pages, 6.3).
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(512);
    expect(pageTestFlag(k.mem, huge + 9, PG_hwpoison)).toBe(true);
    expect(folioTestHugetlb(k.mem, huge + 9)).toBe(false);
    // The source left the pool (dissolved) and its other 511 pages went to the buddy.
    expect(hugetlbNodeCounters(k.mem, 0).nr_hugepages).toBe(before.nr_hugepages - 1);
    expect(nodeFreePages(k.mem, 0)).toBe(free + 511);
    expect(k.numPoisonedPages).toBe(1);
    sound(k);
  });
});

describe('madvise(MADV_SOFT_OFFLINE)', () => {
  it('-EPERM without CAP_SYS_ADMIN, -EINVAL for a misaligned start, -EFAULT for an unmapped page (after the mapped ones)', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.vm.userWrite(mm, addr + PAGE_SIZE, 2);
      expect(yield* k.madvise(mm, addr, PAGE_SIZE, MADV_SOFT_OFFLINE, false)).toBe(-EPERM);
      expect(yield* k.madvise(mm, addr + 1, PAGE_SIZE, MADV_SOFT_OFFLINE, true)).toBe(-EINVAL);
      expect(k.numPoisonedPages).toBe(0);
      expect(yield* k.madvise(mm, addr, 3 * PAGE_SIZE, MADV_SOFT_OFFLINE, true)).toBe(-EFAULT);
      expect(yield* k.vm.userRead(mm, addr)).toBe(1);
      expect(yield* k.vm.userRead(mm, addr + PAGE_SIZE)).toBe(2);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(2);
  });

  it('an untouched anonymous page reads as the zero page, which is never handlable: -EIO', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      expect(yield* k.madvise(mm, addr, PAGE_SIZE, MADV_SOFT_OFFLINE, true)).toBe(-EIO);
      expect(k.vm.followPage(mm, addr)).toBe(k.mem.zeroPfn);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(0);
  });

  it('offlines every page of the range (faulting it in first) and the process keeps its data', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const olds: number[] = [];
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 7 * i);
      for (let i = 0; i < 4; i++) olds.push(k.vm.followPage(mm, addr + i * PAGE_SIZE));
      expect(yield* k.madvise(mm, addr, 4 * PAGE_SIZE, MADV_SOFT_OFFLINE, true)).toBe(0);
      for (let i = 0; i < 4; i++) {
        expect(k.vm.followPage(mm, addr + i * PAGE_SIZE)).not.toBe(olds[i]);
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(7 * i);
      }
      // Other advices go to the rmap side.
      expect(yield* k.madvise(mm, addr, PAGE_SIZE, MADV_DONTNEED, false)).toBe(0);
      expect(yield* k.vm.userRead(mm, addr)).toBe(0);
    });
    k.run();
    expect(k.numPoisonedPages).toBe(4);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(4);
    for (const pfn of olds) expect(pageTestFlag(k.mem, pfn, PG_hwpoison)).toBe(true);
    sound(k);
  });
});
