import {
  allocPfn,
  nodeFreePages,
  pageZonenum,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  zoneFreePages,
  zoneNrFree,
} from '@mmsim/folio';
import { createKernel, type Kernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  COMPACT_CONTINUE,
  COMPACT_SKIPPED,
  CompactControl,
  compactionSuitable,
  compactNode,
  compactZone,
  fragmentationScoreNode,
  fragmentationScoreZone,
  populatedZones,
  zoneCompaction,
} from '../src/index.js';

/** Whether page `i` of the buffer was unmapped by `twoZones`. */
const unmapped = (i: number): boolean => i >= 1536 && i < 2048 && i % 2 === 0;

/** Pages of the buffer that land in ZONE_NORMAL. */
const NORMAL = 100;

/**
 * One node of 4096 pages, the top 2048 ZONE_MOVABLE (four pageblocks each). A process maps
 * 2048 + NORMAL pages: user memory fills ZONE_MOVABLE first (buffer pages 0..2047 at pfns
 * 2048..4095), the other NORMAL land at the bottom of ZONE_NORMAL (pfns 1..100). A kernel
 * page at pfn 1700 keeps ZONE_NORMAL's top pageblock from being one free block (which the
 * free scanner passes over). Then every other page of pfns 3584..4095 is unmapped: the top
 * pageblock of the node, in ZONE_MOVABLE, has 256 free pages.
 */
function twoZones(): {
  k: Kernel;
  mm: MmView;
  addr: number;
  pages: number;
  ready: { done: boolean };
} {
  const k = createKernel({
    nodes: [{ pages: 4096, movablePages: 2048 }],
    cpusPerNode: 2,
    variant: 'v6.3',
    zeroPage: false,
  });
  const mm = k.createProcess('app');
  const pages = 2048 + NORMAL;
  const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
  const ready = { done: false };
  k.rt.spawn('fill', 0, function* (): KernelGen {
    yield* touchPages(k, mm, addr, pages, (i) => 1 + i);
    expect(allocPfn(k.mem, 1700)).toBe(1700);
    for (let i = 1536; i < 2048; i += 2) yield* k.vm.munmap(mm, addr + i * PAGE_SIZE, PAGE_SIZE);
    yield* k.lru.lruAddDrainAll();
    ready.done = true;
  });
  return { k, mm, addr, pages, ready };
}

/** The zone of each still-mapped page of the buffer, by page index (-1 when unmapped). */
function zonesOf(k: Kernel, mm: MmView, addr: number, pages: number): number[] {
  return Array.from({ length: pages }, (_, i) => {
    if (unmapped(i)) return -1;
    return pageZonenum(k.mem, k.vm.followPage(mm, addr + i * PAGE_SIZE));
  });
}

describe('compaction per zone (mm/compaction.c, 6.3: compact_node, compact_zone)', () => {
  it('compact_memory compacts each populated zone on its own: no page crosses from ZONE_NORMAL into ZONE_MOVABLE', () => {
    const { k, mm, addr, pages, ready } = twoZones();
    k.rt.spawn('compact', 1, function* (): KernelGen {
      while (!ready.done) yield;
      const before = zonesOf(k, mm, addr, pages);
      expect(before.filter((z) => z === ZONE_NORMAL).length).toBe(NORMAL);
      const normalPfns = () =>
        Array.from({ length: NORMAL }, (_, i) =>
          k.vm.followPage(mm, addr + (2048 + i) * PAGE_SIZE),
        );
      const normalBefore = normalPfns();
      yield* compactNode(k, 0);
      expect(zonesOf(k, mm, addr, pages)).toEqual(before);
      // ZONE_NORMAL was compacted all the same: its pages moved up into its top pageblock
      const normalAfter = normalPfns();
      expect(normalBefore.every((pfn) => pfn <= NORMAL)).toBe(true);
      expect(normalAfter.every((pfn) => pfn >= 1536 && pfn < 2048)).toBe(true);
      for (let i = 0; i < pages; i++) {
        if (unmapped(i)) continue;
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1 + i);
      }
    });
    const begins: Array<{ zone_start: number; zone_end: number }> = [];
    k.rt.trace.on('mm_compaction_begin', (e) => {
      begins.push(e.fields as { zone_start: number; zone_end: number });
    });
    expect(k.run().status).toBe('completed');
    expect(begins.map((b) => [b.zone_start, b.zone_end])).toEqual([
      [0, 2048],
      [2048, 4096],
    ]);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBeGreaterThan(NORMAL);
  });

  it('a compaction of ZONE_MOVABLE moves pages within it: its free scanner takes no ZONE_NORMAL page', () => {
    const { k, mm, addr, pages, ready } = twoZones();
    let normalFreeBefore = -1;
    k.rt.spawn('compact', 1, function* (): KernelGen {
      while (!ready.done) yield;
      const before = zonesOf(k, mm, addr, pages);
      normalFreeBefore = zoneFreePages(k.mem, 0, ZONE_NORMAL);
      const cc = new CompactControl(k, {
        order: -1,
        mode: MIGRATE_SYNC,
        nid: 0,
        zone: ZONE_MOVABLE,
        ignore_skip_hint: true,
        whole_zone: true,
      });
      expect(cc.zone.startPfn).toBe(2048);
      expect(cc.zone.endPfn).toBe(4096);
      yield* compactZone(k, cc);
      expect(zonesOf(k, mm, addr, pages)).toEqual(before);
      expect(zoneFreePages(k.mem, 0, ZONE_NORMAL)).toBe(normalFreeBefore);
    });
    expect(k.run().status).toBe('completed');
    // pages of its lowest pageblock moved up into the free pages of its top one
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBeGreaterThan(0);
  });

  it('zone free counts and suitability are per zone; a node without ZONE_MOVABLE is one zone as before', () => {
    const { k, ready } = twoZones();
    k.run();
    expect(ready.done).toBe(true);
    const normal = zoneFreePages(k.mem, 0, ZONE_NORMAL);
    const movable = zoneFreePages(k.mem, 0, ZONE_MOVABLE);
    expect(normal + movable).toBe(nodeFreePages(k.mem, 0));
    expect(movable).toBe(256);
    expect(zoneNrFree(k.mem, 0, ZONE_MOVABLE, 9)).toBe(0);
    expect(populatedZones(k, 0)).toEqual([ZONE_NORMAL, ZONE_MOVABLE]);
    // order 4 in ZONE_MOVABLE: 256 single free pages, no free order-4 block
    expect(compactionSuitable(k, 0, 4, ZONE_MOVABLE)).toBe(COMPACT_CONTINUE);
    expect(compactionSuitable(k, 0, 9, ZONE_MOVABLE)).toBe(COMPACT_SKIPPED);
    // the node's score weighs each zone's by its pages
    const score =
      Math.floor((2048 * fragmentationScoreZone(k, 0, ZONE_NORMAL)) / 4097) +
      Math.floor((2048 * fragmentationScoreZone(k, 0, ZONE_MOVABLE)) / 4097);
    expect(fragmentationScoreNode(k, 0)).toBe(score);
    const one = createKernel({ nodes: [{ pages: 2048 }], variant: 'v6.3' });
    expect(populatedZones(one, 0)).toEqual([ZONE_NORMAL]);
    expect(zoneCompaction(one, 0).endPfn).toBe(2048);
    expect(() => zoneCompaction(one, 0, ZONE_MOVABLE)).toThrow(MmsimError);
    expect(() => zoneCompaction(one, 0, 7)).toThrow(MmsimError);
  });
});
