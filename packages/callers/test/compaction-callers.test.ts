import { type Folio, folioAlloc, folioPut, nodeNrFree } from '@mmsim/folio';
import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  COMPACT_COMPLETE,
  compactionActorStats,
  compactMemory,
  directCompaction,
  kcompactd,
} from '../src/index.js';

const ANON = 48;

/** One node of 2048 pages (four pageblocks), two CPUs. */
function machine(): { k: Kernel; mm: MmView; addr: number; lines: string[] } {
  const k = createKernel({ nodes: [{ pages: 2048 }], cpusPerNode: 2, variant: 'v6.3' });
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, { length: ANON * PAGE_SIZE });
  const lines: string[] = [];
  for (const name of [
    'mm_migrate_pages_start',
    'mm_compaction_begin',
    'mm_compaction_end',
    'mm_compaction_isolate_migratepages',
    'mm_compaction_isolate_freepages',
    'mm_compaction_migratepages',
    'mm_compaction_wakeup_kcompactd',
    'mm_compaction_kcompactd_wake',
  ]) {
    k.rt.trace.on(name, (e) => lines.push(`${e.name}: ${k.rt.trace.formatFields(e)}`));
  }
  return { k, mm, addr, lines };
}

/**
 * Fragments node 0: ANON anonymous pages at the bottom, every other free page of the upper
 * half left free and the rest held (pages the kernel keeps), so no block of order > 0 is
 * free and the free pages sit in the last pageblocks, where the free scanner looks.
 */
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

function* checkContents(k: Kernel, mm: MmView, addr: number): KernelGen {
  for (let i = 0; i < ANON; i++)
    expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
}

function nrFreeAbove0(k: Kernel): number {
  let n = 0;
  for (let o = 1; o < 11; o++) n += nodeNrFree(k.mem, 0, o);
  return n;
}

describe('compact_memory (compact_nodes -> compact_node): MIGRATE_SYNC, MR_COMPACTION, whole zone', () => {
  it('migrates the anon pages into the free pages of the last pageblocks, counts and traces as the kernel names them', () => {
    const { k, mm, addr, lines } = machine();
    const stats = compactionActorStats();
    let freeBlocksBefore = -1;
    k.rt.spawn('sh', 0, function* (task: Task): KernelGen {
      const held = yield* fragment(k, mm, addr);
      freeBlocksBefore = nrFreeAbove0(k);
      yield* compactMemory(k, { cpu: 0, stats }).body(task);
      yield* checkContents(k, mm, addr);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(freeBlocksBefore).toBe(0);
    expect(stats.results).toEqual([COMPACT_COMPLETE]);
    const starts = lines.filter((l) => l.startsWith('mm_migrate_pages_start'));
    expect(starts.length).toBeGreaterThan(0);
    for (const l of starts)
      expect(l).toBe('mm_migrate_pages_start: mode=MIGRATE_SYNC reason=compaction');
    expect(lines.find((l) => l.startsWith('mm_compaction_begin'))).toBe(
      'mm_compaction_begin: zone_start=0x0 migrate_pfn=0x0 free_pfn=0x600 zone_end=0x800, mode=sync',
    );
    expect(lines.find((l) => l.startsWith('mm_compaction_end'))).toMatch(
      /^mm_compaction_end: zone_start=0x0 migrate_pfn=0x[0-9a-f]+ free_pfn=0x[0-9a-f]+ zone_end=0x800, mode=sync status=complete$/,
    );
    const taken = (name: string) =>
      lines
        .filter((l) => l.startsWith(name))
        .reduce((sum, l) => sum + Number(/nr_taken=(\d+)/.exec(l)?.[1]), 0);
    const migrated = lines
      .filter((l) => l.startsWith('mm_compaction_migratepages'))
      .reduce((sum, l) => sum + Number(/nr_migrated=(\d+)/.exec(l)?.[1]), 0);
    const v = (e: number) => k.vmstat.vmEvent(e);
    expect(v(VmEvent.PGMIGRATE_SUCCESS)).toBe(ANON);
    expect(migrated).toBe(ANON);
    expect(taken('mm_compaction_isolate_migratepages')).toBe(ANON);
    expect(v(VmEvent.COMPACT_ISOLATED)).toBe(
      taken('mm_compaction_isolate_migratepages') + taken('mm_compaction_isolate_freepages'),
    );
    expect(v(VmEvent.COMPACT_MIGRATE_SCANNED)).toBeGreaterThan(0);
    expect(v(VmEvent.COMPACT_FREE_SCANNED)).toBeGreaterThan(0);
    // compact_memory is neither a stall nor kcompactd
    expect(v(VmEvent.COMPACT_STALL)).toBe(0);
    expect(v(VmEvent.COMPACT_DAEMON_WAKE)).toBe(0);
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });
});

describe('direct compaction (__alloc_pages_direct_compact): MIGRATE_ASYNC first, PF_MEMALLOC', () => {
  it('an order-2 allocation that fails stalls, compacts asynchronously and then succeeds', () => {
    const { k, mm, addr, lines } = machine();
    const stats = compactionActorStats();
    k.rt.spawn('app', 0, function* (task: Task): KernelGen {
      const held = yield* fragment(k, mm, addr);
      expect(folioAlloc(k.mem, 2, 0, { thisNode: true })).toBeLessThan(0);
      yield* directCompaction(k, { cpu: 0, nid: 0, order: 2, stats }).body(task);
      yield* checkContents(k, mm, addr);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(stats.runs).toBe(1);
    // get_page_from_freelist after the compaction succeeded (whatever compact_zone reported:
    // compact_finished looks for a free block only at pageblock boundaries).
    expect(stats.results.length).toBeGreaterThanOrEqual(1);
    const modes = lines
      .filter((l) => l.startsWith('mm_compaction_begin'))
      .map((l) => /mode=(\w+)$/.exec(l)?.[1]);
    // INIT_COMPACT_PRIORITY (MIGRATE_ASYNC) first, then MIGRATE_SYNC_LIGHT ("sync").
    expect(modes[0]).toBe('async');
    expect(modes.slice(1).every((m) => m === 'sync')).toBe(true);
    expect(lines.find((l) => l.startsWith('mm_migrate_pages_start'))).toBe(
      'mm_migrate_pages_start: mode=MIGRATE_ASYNC reason=compaction',
    );
    const attempts = stats.results.length;
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_STALL)).toBe(attempts);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_SUCCESS)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_FAIL)).toBe(attempts - 1);
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });

  it('rejects an order-0 allocation and a node the machine does not have', () => {
    const { k } = machine();
    expect(() => directCompaction(k, { cpu: 0, nid: 0, order: 0 })).toThrow(MmsimError);
    expect(() => directCompaction(k, { cpu: 0, nid: 3, order: 2 })).toThrow(/not a node/);
  });
});

describe('kcompactd: woken by an allocation failure, MIGRATE_SYNC_LIGHT', () => {
  it('a failed order-2 allocation wakes it (wakeup_kcompactd); it compacts and the retry succeeds', () => {
    const { k, mm, addr, lines } = machine();
    const stats = compactionActorStats();
    let allocated = -1;
    let tries = 0;
    k.spawn(kcompactd(k, { cpu: 1, nid: 0, timeouts: 2, stats }));
    k.rt.spawn('app', 0, function* (): KernelGen {
      const held = yield* fragment(k, mm, addr);
      for (; tries < 20 && allocated < 0; tries++) {
        allocated = folioAlloc(k.mem, 2, 0, { thisNode: true });
        if (allocated < 0) yield* k.rt.sleepFor(50_000_000);
      }
      yield* checkContents(k, mm, addr);
      if (allocated >= 0) folioPut(k.mem, allocated);
      for (const f of held) folioPut(k.mem, f);
    });
    expect(k.run().status).toBe('completed');
    expect(allocated).toBeGreaterThanOrEqual(0);
    expect(tries).toBeGreaterThan(1);
    // The waker's highest_zoneidx is its gfp_zone, ZONE_MOVABLE for a movable allocation;
    // kcompactd's bound stays the node's highest zone (nr_zones - 1: Normal on this machine).
    expect(lines).toContain(
      'mm_compaction_wakeup_kcompactd: nid=0 order=2 highest_zoneidx=Movable ',
    );
    expect(lines).toContain('mm_compaction_kcompactd_wake: nid=0 order=2 highest_zoneidx=Normal  ');
    const starts = lines.filter((l) => l.startsWith('mm_migrate_pages_start'));
    expect(starts.length).toBeGreaterThan(0);
    for (const l of starts) {
      expect(l).toBe('mm_migrate_pages_start: mode=MIGRATE_SYNC_LIGHT reason=compaction');
    }
    expect(stats.runs).toBeGreaterThanOrEqual(1);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_WAKE)).toBe(stats.runs);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_MIGRATE_SCANNED)).toBeGreaterThan(0);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_STALL)).toBe(0);
  });

  it('an order-0 failure never wakes it, and it ends after its timeouts', () => {
    const { k } = machine();
    const stats = compactionActorStats();
    k.spawn(kcompactd(k, { cpu: 1, nid: 0, timeouts: 1, stats }));
    expect(k.run().status).toBe('completed');
    expect(stats.runs).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_WAKE)).toBe(0);
  });
});
