import {
  allocPfn,
  checkPhysicalMemory,
  folioAlloc,
  getPageblockMigratetype,
  MIGRATE_MOVABLE,
  nodeFreeIsolatedPages,
  nodeFreePages,
  nodeOfflinePages,
  pfnOffline,
  pfnToNid,
} from '@mmsim/folio';
import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { EBUSY, EINTR, EINVAL, type KernelGen, type Task, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { offlinePages, scanMovablePages, offlineStats as stats } from '../src/index.js';

const PAGES = 32;
/** Node 1 spans [2048, 4096): memory blocks [2048, 3072) and [3072, 4096). */
const BLOCK = 2048;
const BLOCK_PAGES = 1024;

function machine(): { k: Kernel; lines: string[] } {
  const k = createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }], cpusPerNode: 2 });
  const lines: string[] = [];
  for (const name of ['mm_migrate_pages_start', 'test_pages_isolated']) {
    k.rt.trace.on(name, (e) => lines.push(`${e.name}: ${k.rt.trace.formatFields(e)}`));
  }
  return { k, lines };
}

describe('offline_pages (mm/memory_hotplug.c, 6.3)', () => {
  it('migrates the pages of the block to the other node with MIGRATE_SYNC and MR_MEMORY_HOTPLUG, then takes the block offline', () => {
    const { k, lines } = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE });
    const st = stats();
    let ret = 1;
    const free1 = nodeFreePages(k.mem, 1);
    // CPU 2 is on node 1: the task's pages land in node 1's first memory block.
    k.rt.spawn('app', 2, function* (): KernelGen {
      yield* touchPages(k, mm, addr, PAGES, (i) => 500 + i);
      yield* k.lru.lruAddDrainAll();
      const before = k.vm.followPage(mm, addr);
      expect(pfnToNid(k.mem, before)).toBe(1);
      expect(scanMovablePages(k, BLOCK, BLOCK + BLOCK_PAGES)).toBeGreaterThanOrEqual(BLOCK);
      ret = yield* offlinePages(k, BLOCK, BLOCK_PAGES, { stats: st });
      for (let i = 0; i < PAGES; i++) {
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(500 + i);
        expect(pfnToNid(k.mem, k.vm.followPage(mm, addr + i * PAGE_SIZE))).toBe(0);
      }
    });
    k.run();
    expect(ret).toBe(0);
    expect(st.failure).toBe(null);
    expect(st.migrated).toBe(PAGES);
    expect(st.offlined).toBe(BLOCK_PAGES);
    expect(nodeOfflinePages(k.mem, 1)).toBe(BLOCK_PAGES);
    expect(pfnOffline(k.mem, BLOCK)).toBe(true);
    expect(nodeFreePages(k.mem, 1)).toBe(free1 - BLOCK_PAGES);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(PAGES);
    expect(lines).toContain('mm_migrate_pages_start: mode=MIGRATE_SYNC reason=memory_hotplug');
    expect(lines).toContain(
      `test_pages_isolated: start_pfn=0x800 end_pfn=0xc00 fin_pfn=0xc00 ret=success`,
    );
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
    // Nothing allocates from the offline block again.
    for (;;) {
      const f = folioAlloc(k.mem, 0, 1);
      if (f < 0) break;
      expect(f < BLOCK || f >= BLOCK + BLOCK_PAGES).toBe(true);
    }
  });

  it('keeps the pages on their node, outside the block, when the node is the only one with memory', () => {
    const k = createKernel({ nodes: [{ pages: 4096 }], cpusPerNode: 2 });
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE });
    let ret = 1;
    k.rt.spawn('app', 0, function* (): KernelGen {
      // Fill [1024, 2048) with the task's pages: hold the low block first.
      const held: number[] = [];
      for (let p = 1; p < 1024; p++) held.push(allocPfn(k.mem, p) as number);
      yield* touchPages(k, mm, addr, PAGES, (i) => 700 + i);
      yield* k.lru.lruAddDrainAll();
      const pfn = k.vm.followPage(mm, addr);
      expect(pfn >= 1024 && pfn < 2048).toBe(true);
      ret = yield* offlinePages(k, 1024, 1024);
      for (let i = 0; i < PAGES; i++) {
        const at = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        expect(at >= 2048).toBe(true);
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(700 + i);
      }
    });
    k.run();
    expect(ret).toBe(0);
    expect(nodeOfflinePages(k.mem, 0)).toBe(1024);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
  });

  it('fails with -EBUSY on an unmovable page and leaves the block as it was', () => {
    const { k } = machine();
    const kernelPage = allocPfn(k.mem, BLOCK + 100) as number;
    const free1 = nodeFreePages(k.mem, 1);
    const st = stats();
    let ret = 0;
    k.rt.spawn('offline', 0, function* (): KernelGen {
      ret = yield* offlinePages(k, BLOCK, BLOCK_PAGES, { stats: st });
    });
    k.run();
    expect(ret).toBe(-EBUSY);
    expect(st.failure).toBe('failure to isolate range');
    expect(getPageblockMigratetype(k.mem, BLOCK)).toBe(MIGRATE_MOVABLE);
    expect(getPageblockMigratetype(k.mem, BLOCK + 512)).toBe(MIGRATE_MOVABLE);
    expect(nodeFreePages(k.mem, 1)).toBe(free1);
    expect(nodeFreeIsolatedPages(k.mem, 1)).toBe(0);
    expect(nodeOfflinePages(k.mem, 1)).toBe(0);
    expect(k.lru.lruCacheDisabled()).toBe(false);
    expect(kernelPage).toBe(BLOCK + 100);
    expect(checkPhysicalMemory(k.mem)).toEqual([]);
  });

  it('backs off with -EINTR when a fatal signal is pending, undoing the isolation', () => {
    const { k } = machine();
    let ret = 0;
    const t: Task = k.rt.spawn('offline', 0, function* (): KernelGen {
      ret = yield* offlinePages(k, BLOCK, BLOCK_PAGES);
    });
    t.fatalSignalPending = true;
    k.run();
    expect(ret).toBe(-EINTR);
    expect(getPageblockMigratetype(k.mem, BLOCK)).toBe(MIGRATE_MOVABLE);
    expect(nodeFreeIsolatedPages(k.mem, 1)).toBe(0);
  });

  it('refuses an unaligned range or one across nodes with -EINVAL', () => {
    const { k } = machine();
    const rets: number[] = [];
    k.rt.spawn('offline', 0, function* (): KernelGen {
      rets.push(yield* offlinePages(k, BLOCK + 1, 511));
      rets.push(yield* offlinePages(k, 1536, 1024)); // half on node 0, half on node 1
      rets.push(yield* offlinePages(k, BLOCK, 0));
    });
    k.run();
    expect(rets).toEqual([-EINVAL, -EINVAL, -EINVAL]);
  });
});
