import { nodeFreePages } from '@mmsim/folio';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, NodeStat } from '@mmsim/runtime';
import { expect, test } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';

test('nr_free_pages is each node buddy free count, and falls as a process faults pages in', () => {
  const k = createKernel({
    nodes: [{ pages: 64 }, { pages: 32 }],
  });
  const free0 = nodeFreePages(k.mem, 0);
  expect(free0).toBeGreaterThan(0);
  expect(k.vmstat.nodePageState(0, NodeStat.NR_FREE_PAGES)).toBe(free0);
  expect(k.vmstat.nodePageState(1, NodeStat.NR_FREE_PAGES)).toBe(nodeFreePages(k.mem, 1));
  expect(k.vmstat.globalNodePageState(NodeStat.NR_FREE_PAGES)).toBe(
    free0 + nodeFreePages(k.mem, 1),
  );
  const mm = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
  k.rt.spawn('main', 0, function* (): KernelGen {
    for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, i + 1);
  });
  k.run();
  const after = k.vmstat.nodePageState(0, NodeStat.NR_FREE_PAGES);
  expect(after).toBe(nodeFreePages(k.mem, 0));
  expect(after).toBeLessThanOrEqual(free0 - 4);
  expect(new Map(k.vmstat.nodeEntries(0)).get('nr_free_pages')).toBe(after);
});

test('nr_writeback counts the pages of the folios under writeback, on their node', () => {
  const k = createKernel({ nodes: [{ pages: 64 }, { pages: 32 }] });
  const mm = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
  const seen: number[] = [];
  k.rt.spawn('writer', 0, function* (): KernelGen {
    yield* k.vm.userWrite(mm, addr, 1);
    yield* k.vm.userWrite(mm, addr + PAGE_SIZE, 2);
    const folio = k.vm.followPage(mm, addr);
    expect(k.locks.folioTrylock(folio, 'test')).toBe(true);
    k.locks.folioStartWriteback(folio, 'test');
    k.locks.folioUnlock(folio);
    seen.push(k.vmstat.nodePageState(0, NodeStat.NR_WRITEBACK));
    seen.push(k.vmstat.nodePageState(1, NodeStat.NR_WRITEBACK));
    k.locks.folioEndWriteback(folio);
    seen.push(k.vmstat.globalNodePageState(NodeStat.NR_WRITEBACK));
  });
  k.run();
  expect(seen).toEqual([1, 0, 0]);
});

/**
 * A process faults four pages in (fewer than a per-CPU LRU batch holds, so they sit in it),
 * then `release` gives them back: every frame is free again, and NR_FREE_PAGES says so.
 */
function framesComeBack(release: (k: Kernel, mm: MmView, addr: number) => KernelGen<unknown>) {
  const k = createKernel({ nodes: [{ pages: 64 }] });
  const free0 = nodeFreePages(k.mem, 0);
  const mm = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
  k.rt.spawn('main', 0, function* (): KernelGen {
    for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, i + 1);
    yield* release(k, mm, addr);
  });
  expect(k.run().status).toBe('completed');
  expect(nodeFreePages(k.mem, 0)).toBe(free0);
  expect(k.vmstat.nodePageState(0, NodeStat.NR_FREE_PAGES)).toBe(free0);
}

test('a process that faults pages in and exits gives every frame back (exit_mmap drains the LRU batch first)', () => {
  framesComeBack((k, mm) => k.vm.exit(mm));
});

test('munmap gives the frames of the unmapped pages back (unmap_region drains the LRU batch first)', () => {
  framesComeBack((k, mm, addr) => k.vm.munmap(mm, addr, 4 * PAGE_SIZE));
});
