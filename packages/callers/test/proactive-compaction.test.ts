import { type Folio, folioAlloc, folioPut } from '@mmsim/folio';
import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC_LIGHT } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  COMPACT_COMPLETE,
  COMPACT_SUCCESS,
  compactionActorStats,
  compactMemory,
  extfragForOrder,
  fragmentationScoreNode,
  fragmentationScoreWmark,
  fragmentationScoreZone,
  kcompactd,
  setCompactionProactiveness,
  shouldProactiveCompactNode,
} from '../src/index.js';

const ANON = 48;

/**
 * One node of 2048 pages: ANON anonymous pages at the bottom, then every page taken and
 * every other one of the upper half given back, so that no free block of order > 0 is left:
 * the fragmentation score is 100. Returns the machine and the pages still held.
 */
function fragmented(): { k: Kernel; ready: { done: boolean; held: Folio[] } } {
  const k = createKernel({ nodes: [{ pages: 2048 }], cpusPerNode: 2, variant: 'v6.3' });
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, { length: ANON * PAGE_SIZE });
  const ready = { done: false, held: [] as Folio[] };
  k.rt.spawn('fragment', 0, function* (): KernelGen {
    yield* touchPages(k, mm, addr, ANON, (i) => 1000 + i);
    yield* k.lru.lruAddDrainAll();
    const all: Folio[] = [];
    for (;;) {
      const f = folioAlloc(k.mem, 0, 0, { thisNode: true });
      if (f < 0) break;
      all.push(f);
    }
    for (const f of all) {
      if (f >= 1024 && f % 2 === 0) folioPut(k.mem, f);
      else ready.held.push(f);
    }
    ready.done = true;
  });
  return { k, ready };
}

/**
 * One node of 4096 pages filled with 3584 anonymous pages, every other one of the first
 * 1024 unmapped again: the free pages are scattered between movable pages or sit in the
 * last, partly used pageblock; no order-9 block is free (score 100), and compaction can
 * make one by moving the lower blocks' pages up.
 */
function movablyFragmented(): { k: Kernel; ready: { done: boolean } } {
  const k = createKernel({ nodes: [{ pages: 4096 }], cpusPerNode: 2, variant: 'v6.3' });
  const mm = k.createProcess('app');
  const pages = 3584;
  const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
  const ready = { done: false };
  k.rt.spawn('fragment', 0, function* (): KernelGen {
    yield* touchPages(k, mm, addr, pages, (i) => 1 + i);
    for (let i = 0; i < 1024; i += 2) yield* k.vm.munmap(mm, addr + i * PAGE_SIZE, PAGE_SIZE);
    yield* k.lru.lruAddDrainAll();
    ready.done = true;
  });
  return { k, ready };
}

describe('fragmentation score (mm/compaction.c, mm/vmstat.c, 6.3)', () => {
  it('is 0 for a fresh node, 100 when no free block of order 9 is left; weighted by present pages', () => {
    const fresh = createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }] });
    expect(fragmentationScoreZone(fresh, 1)).toBe(0); // one free order-10 block
    // Node 0 lost pfn 0 to the zero page: 511 of its 2047 free pages are in blocks < order 9.
    expect(fragmentationScoreZone(fresh, 0)).toBe(Math.floor((511 * 100) / 2047));
    expect(shouldProactiveCompactNode(fresh, 0)).toBe(false);
    const { k, ready } = fragmented();
    k.run();
    expect(ready.done).toBe(true);
    expect(extfragForOrder(k, 0, 9)).toBe(100);
    // present * 100 / (present + 1), rounded down: 99 for 2048 pages.
    expect(fragmentationScoreNode(k, 0)).toBe(Math.floor((2048 * 100) / 2049));
    expect(shouldProactiveCompactNode(k, 0)).toBe(true);
  });

  it('watermarks follow vm.compaction_proactiveness: default 20 gives 80 / 90, low capped at 5', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    expect([fragmentationScoreWmark(k, true), fragmentationScoreWmark(k, false)]).toEqual([80, 90]);
    setCompactionProactiveness(k, 100);
    expect([fragmentationScoreWmark(k, true), fragmentationScoreWmark(k, false)]).toEqual([5, 15]);
    setCompactionProactiveness(k, 0);
    const { k: frag } = fragmented();
    frag.run();
    setCompactionProactiveness(frag, 0);
    expect(shouldProactiveCompactNode(frag, 0)).toBe(false);
    for (const bad of [-1, 101, 2.5, Number.NaN]) {
      expect(() => setCompactionProactiveness(k, bad)).toThrow(MmsimError);
    }
  });
});

describe('proactive compaction from kcompactd (proactive_compact_node, 6.3)', () => {
  it('on a timeout of a fragmented node: whole zone, MIGRATE_SYNC_LIGHT, until the score is at the low mark', () => {
    const { k, ready } = movablyFragmented();
    const modes: number[] = [];
    k.rt.trace.on('mm_migrate_pages_start', (e) => {
      modes.push((e.fields as { mode: number }).mode);
    });
    const stats = compactionActorStats();
    const daemon = kcompactd(k, { cpu: 1, nid: 0, timeouts: 1, stats });
    k.spawn({
      ...daemon,
      *body(task): KernelGen {
        while (!ready.done) yield;
        yield* daemon.body(task);
      },
    });
    expect(k.run().status).toBe('completed');
    expect(stats.proactive).toBe(1);
    expect(stats.runs).toBe(0); // no kcompactd_do_work: nobody asked for an order
    expect(stats.results).toEqual([COMPACT_SUCCESS]);
    expect(modes.length).toBeGreaterThan(0);
    expect(modes.every((m) => m === MIGRATE_SYNC_LIGHT)).toBe(true);
    expect(fragmentationScoreZone(k, 0)).toBeLessThanOrEqual(fragmentationScoreWmark(k, true));
    // 6.3 counts no compact_daemon_* event for the proactive work, only compact_zone's own.
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_WAKE)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_DAEMON_MIGRATE_SCANNED)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_MIGRATE_SCANNED)).toBeGreaterThan(0);
    expect(k.vm.check({ quiescent: false })).toEqual([]);
  });

  it('without progress (unmovable pages in the way) the next wait is 64 timeouts long', () => {
    const { k, ready } = fragmented();
    const stats = compactionActorStats();
    const daemon = kcompactd(k, { cpu: 1, nid: 0, timeouts: 2, stats });
    let started = 0;
    k.spawn({
      ...daemon,
      *body(task): KernelGen {
        while (!ready.done) yield;
        started = k.rt.current.cpu.clock;
        yield* daemon.body(task);
      },
    });
    k.run();
    expect(stats.results).toEqual([COMPACT_COMPLETE, COMPACT_COMPLETE]);
    expect(stats.proactive).toBe(2);
    expect(fragmentationScoreNode(k, 0)).toBeGreaterThan(fragmentationScoreWmark(k, false));
    // 500 ms, then 500 ms << COMPACT_MAX_DEFER_SHIFT (32 s).
    expect(k.rt.cpus[1]!.clock - started).toBeGreaterThanOrEqual(500_000_000 * 65);
  });

  it('does nothing with vm.compaction_proactiveness = 0, nor on an unfragmented node', () => {
    for (const proactiveness of [0, 20]) {
      const { k, ready } = fragmented();
      if (proactiveness === 0) setCompactionProactiveness(k, 0);
      const stats = compactionActorStats();
      const daemon = kcompactd(k, { cpu: 1, nid: 0, timeouts: 1, stats });
      k.spawn({
        ...daemon,
        *body(task): KernelGen {
          while (!ready.done) yield;
          // With the default, give every held page back first: nothing left to compact.
          if (proactiveness === 20) for (const f of ready.held.splice(0)) folioPut(k.mem, f);
          yield* daemon.body(task);
        },
      });
      k.run();
      expect(stats.proactive).toBe(0);
      expect(k.vmstat.vmEvent(VmEvent.COMPACT_MIGRATE_SCANNED)).toBe(0);
    }
  });

  it('compact_memory fires mm_compaction_suitable for order -1, as 6.3 compact_zone does', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }], cpusPerNode: 1 });
    const lines: string[] = [];
    k.rt.trace.on('mm_compaction_suitable', (e) => lines.push(k.rt.trace.formatFields(e)));
    k.spawn(compactMemory(k, { cpu: 0 }));
    k.run();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/order=-1 ret=continue/);
  });
});
