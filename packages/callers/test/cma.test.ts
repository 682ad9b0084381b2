import {
  checkPhysicalMemory,
  folioRefCount,
  folioTryGet,
  getPageblockMigratetype,
  MIGRATE_CMA,
  nodeFreeCmaPages,
  nodeFreeIsolatedPages,
  pfnFolio,
} from '@mmsim/folio';
import { createKernel, type Kernel, type KernelConfig, touchPages } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type ContigMigrateStats, cmaAlloc, cmaArea, cmaRelease } from '../src/index.js';

const PAGES = 24;
/** One node of 4096 pages with a CMA area [1024, 3072): CMA holds more than half the free pages. */
function machine(extra: Partial<KernelConfig> = {}): { k: Kernel; lines: string[] } {
  const k = createKernel({
    nodes: [{ pages: 4096 }],
    cpusPerNode: 2,
    cma: [{ base: 1024, pages: 2048 }],
    ...extra,
  });
  const lines: string[] = [];
  for (const name of [
    'mm_migrate_pages_start',
    'test_pages_isolated',
    'cma_alloc_start',
    'cma_alloc_finish',
    'cma_alloc_busy_retry',
    'cma_release',
    'mm_alloc_contig_migrate_range_info',
  ]) {
    k.rt.trace.on(name, (e) => lines.push(`${e.name}: ${k.rt.trace.formatFields(e)}`));
  }
  return { k, lines };
}

/**
 * Takes the area's pages below `pfn` with a first cma_alloc (free pages, nothing to
 * migrate), so that the next cma_alloc starts at `pfn`.
 */
function* takeBelow(k: Kernel, pfn: number): KernelGen {
  const cma = cmaArea(k);
  if (pfn > cma.base_pfn) expect(yield* cmaAlloc(k, cma, pfn - cma.base_pfn)).toBe(cma.base_pfn);
}

function newStats(): ContigMigrateStats {
  return { rounds: 0, migrated: 0, mapped: 0, ret: 0 };
}

describe('CMA areas from the machine configuration', () => {
  it('makes the area MIGRATE_CMA and puts user pages there first while CMA holds most free memory', () => {
    const { k } = machine();
    expect(getPageblockMigratetype(k.mem, 1024)).toBe(MIGRATE_CMA);
    expect(getPageblockMigratetype(k.mem, 3072)).not.toBe(MIGRATE_CMA);
    expect(nodeFreeCmaPages(k.mem, 0)).toBe(2048);
    expect(cmaArea(k).name).toBe('reserved');
    expect(() => cmaArea(k, 'nope')).toThrow(MmsimError);
  });

  it('rejects an area that is not pageblock-aligned', () => {
    expect(() => machine({ cma: [{ base: 1000, pages: 512 }] })).toThrow(/pageblock-aligned|512/);
  });
});

describe('cma_alloc -> alloc_contig_range (mm/cma.c, mm/page_alloc.c, 6.3)', () => {
  it('migrates the user pages out of the range with MIGRATE_SYNC and MR_CONTIG_RANGE and hands the range over', () => {
    const { k, lines } = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE });
    const cma = cmaArea(k);
    const st = newStats();
    let got = -1;
    let first = -1;
    let inside = 0;
    k.rt.spawn('app', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, PAGES, (i) => 900 + i);
      yield* k.lru.lruAddDrainAll();
      first = k.vm.followPage(mm, addr);
      expect(first >= 1024 && first < 3072).toBe(true);
      for (let i = 0; i < PAGES; i++) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        if (pfn >= first && pfn < first + 64) inside++;
      }
      yield* takeBelow(k, first);
      got = yield* cmaAlloc(k, cma, 64, { stats: st });
      for (let i = 0; i < PAGES; i++) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        expect(pfn < first || pfn >= first + 64).toBe(true);
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(900 + i);
      }
    });
    k.run();
    expect(got).toBe(first);
    for (let p = first; p < first + 64; p++) {
      expect(pfnFolio(k.mem, p)).toBe(p);
      expect(folioRefCount(k.mem, p)).toBe(1);
    }
    expect(inside).toBeGreaterThan(1);
    expect(st.migrated).toBe(inside);
    const below = first - 1024;
    expect(cma.used).toBe(below + 64);
    expect(k.vmstat.vmEvent(VmEvent.CMA_ALLOC_SUCCESS)).toBe(below > 0 ? 2 : 1);
    expect(k.vmstat.vmEvent(VmEvent.CMA_ALLOC_FAIL)).toBe(0);
    expect(lines).toContain('mm_migrate_pages_start: mode=MIGRATE_SYNC reason=contig_range');
    expect(lines).toContain('cma_alloc_start: name=reserved count=64 align=0');
    const hex = first.toString(16);
    expect(lines).toContain(
      `cma_alloc_finish: name=reserved pfn=0x${hex} page=${hex.padStart(16, '0')} count=64 align=0`,
    );
    // v6.3 has no mm_alloc_contig_migrate_range_info.
    expect(lines.some((l) => l.startsWith('mm_alloc_contig_migrate_range_info'))).toBe(false);
    expect(getPageblockMigratetype(k.mem, 1024)).toBe(MIGRATE_CMA);
    expect(nodeFreeIsolatedPages(k.mem, 0)).toBe(0);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);

    const cmaFree = nodeFreeCmaPages(k.mem, 0);
    expect(cmaRelease(k, cma, first, 64)).toBe(true);
    expect(nodeFreeCmaPages(k.mem, 0)).toBe(cmaFree + 64);
    expect(cma.used).toBe(below);
    expect(lines).toContain(
      `cma_release: name=reserved pfn=0x${hex} page=${hex.padStart(16, '0')} count=64`,
    );
    expect(() => cmaRelease(k, cma, first, 1)).toThrow(/not allocated/);
    expect(cmaRelease(k, cma, 100, 1)).toBe(false);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
  });

  it('fires mm_alloc_contig_migrate_range_info in v6.10 (6.9+)', () => {
    const { k, lines } = machine({ variant: 'v6.10' });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    let first = -1;
    let inside = 0;
    k.rt.spawn('app', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 4, (i) => i + 1);
      yield* k.lru.lruAddDrainAll();
      first = k.vm.followPage(mm, addr);
      for (let i = 0; i < 4; i++) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        if (pfn >= first && pfn < first + 16) inside++;
      }
      yield* takeBelow(k, first);
      lines.length = 0;
      expect(yield* cmaAlloc(k, cmaArea(k), 16)).toBe(first);
    });
    k.run();
    expect(inside).toBeGreaterThan(0);
    expect(lines).toContain(
      `mm_alloc_contig_migrate_range_info: start=0x${first.toString(16)} end=0x${(first + 16).toString(16)} migratetype=4 nr_migrated=${inside} nr_reclaimed=0 nr_mapped=${inside}`,
    );
  });

  it('gives up a range whose page stays pinned (-EBUSY after 5 tries) and retries past it', () => {
    const { k, lines } = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const cma = cmaArea(k);
    let got = -1;
    let pinned = -1;
    k.rt.spawn('app', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 4, (i) => 40 + i);
      yield* k.lru.lruAddDrainAll();
      pinned = k.vm.followPage(mm, addr);
      yield* takeBelow(k, pinned);
      lines.length = 0;
      expect(folioTryGet(k.mem, pinned)).toBe(true); // an extra reference: a pin
      got = yield* cmaAlloc(k, cma, 8);
      for (let i = 0; i < 4; i++)
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(40 + i);
    });
    k.run();
    expect(got).toBe(pinned + 1);
    const hex = pinned.toString(16);
    expect(lines.filter((l) => l.startsWith('cma_alloc_busy_retry'))).toEqual([
      `cma_alloc_busy_retry: name=reserved pfn=0x${hex} page=${hex.padStart(16, '0')} count=8 align=0`,
    ]);
    expect(lines).toContain(
      `test_pages_isolated: start_pfn=0x${hex} end_pfn=0x${(pinned + 8).toString(16)} fin_pfn=0x${hex} ret=fail`,
    );
    expect(k.vm.followPage(mm, addr)).toBe(pinned);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
  });

  it('counts cma_alloc_fail when no run of the area fits', () => {
    const { k } = machine();
    let got = 0;
    k.rt.spawn('cma', 0, function* (): KernelGen {
      got = yield* cmaAlloc(k, cmaArea(k), 4096);
    });
    k.run();
    expect(got).toBeLessThan(0);
    expect(k.vmstat.vmEvent(VmEvent.CMA_ALLOC_FAIL)).toBe(1);
  });
});
