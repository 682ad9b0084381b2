import { ENOMEM, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  checkPhysicalMemory,
  createPhysicalMemory,
  declareCmaArea,
  folioAlloc,
  folioIsLongtermPinnable,
  folioIsZoneMovable,
  folioPut,
  HPAGE_PMD_ORDER,
  isMigrateCmaPage,
  isZoneMovablePage,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  PAGEBLOCK_NR_PAGES,
  pageZonenum,
  setPageblockMigratetype,
  ZONE_MOVABLE,
  ZONE_NAMES,
  ZONE_NORMAL,
  zoneMovablePages,
  zoneMovablePfn,
} from '../src/index.js';

/** One node of 2048 pages, the top 1024 of them ZONE_MOVABLE. */
const zoned = () => createPhysicalMemory({ nodes: [{ pages: 2048, movablePages: 1024 }] });

describe('zones: ZONE_NORMAL and the per-node ZONE_MOVABLE (movablecore=, 6.3)', () => {
  it('puts ZONE_MOVABLE at the top of each node, its start rounded up to MAX_ORDER_NR_PAGES', () => {
    const mem = createPhysicalMemory({
      nodes: [
        { pages: 2048, movablePages: 1024 },
        { pages: 3000, movablePages: 1500 },
        { pages: 512 },
      ],
    });
    expect(zoneMovablePfn(mem, 0)).toBe(1024);
    expect(zoneMovablePages(mem, 0)).toBe(1024);
    // node 1 spans [2048, 5048): 5048 - 1500 = 3548, rounded up to 4096
    expect(zoneMovablePfn(mem, 1)).toBe(4096);
    expect(zoneMovablePages(mem, 1)).toBe(5048 - 4096);
    // node 2 has no movable zone: its start is the node's end
    expect(zoneMovablePages(mem, 2)).toBe(0);
    expect(pageZonenum(mem, 1023)).toBe(ZONE_NORMAL);
    expect(pageZonenum(mem, 1024)).toBe(ZONE_MOVABLE);
    expect(isZoneMovablePage(mem, 4095)).toBe(false);
    expect(isZoneMovablePage(mem, 4096)).toBe(true);
    expect(ZONE_NAMES[ZONE_MOVABLE]).toBe('Movable');
    expect(checkPhysicalMemory(mem)).toEqual([]);
  });

  it('has no movable zone without movablePages: every page is ZONE_NORMAL', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    expect(zoneMovablePages(mem, 0)).toBe(0);
    expect(isZoneMovablePage(mem, 2047)).toBe(false);
  });

  it('rejects a movablePages that leaves no ZONE_NORMAL, with a typed error', () => {
    for (const movablePages of [2048, -1, 1.5, '4']) {
      expect(() =>
        createPhysicalMemory({ nodes: [{ pages: 2048, movablePages: movablePages as number }] }),
      ).toThrow(MmsimError);
    }
    expect(() => createPhysicalMemory({ nodes: [{ pages: 2048, movablePages: 2048 }] })).toThrow(
      /movablePages must be an integer in \[0, 2047\]/,
    );
  });

  it('gives movable allocations ZONE_MOVABLE first, then ZONE_NORMAL', () => {
    const mem = zoned();
    const first = folioAlloc(mem, 0, 0);
    expect(folioIsZoneMovable(mem, first)).toBe(true);
    const got: number[] = [];
    for (;;) {
      const f = folioAlloc(mem, 0, 0);
      if (f < 0) break;
      got.push(f);
    }
    // the whole node is usable by a movable allocation (2047 pages: pfn 0 is the zero page)
    expect(got.length + 1).toBe(2047);
    const firstNormal = got.findIndex((f) => !isZoneMovablePage(mem, f));
    expect(firstNormal).toBe(1023); // 1024 movable pages first
    expect(got.slice(firstNormal).every((f) => !isZoneMovablePage(mem, f))).toBe(true);
  });

  it('never gives an unmovable allocation a ZONE_MOVABLE page: -ENOMEM when ZONE_NORMAL is full', () => {
    const mem = zoned();
    const normal: number[] = [];
    for (;;) {
      const f = folioAlloc(mem, 0, 0, { movable: false });
      if (f < 0) {
        expect(f).toBe(-ENOMEM);
        break;
      }
      normal.push(f);
    }
    expect(normal.length).toBe(1023); // ZONE_NORMAL less the zero page
    expect(normal.every((f) => pageZonenum(mem, f) === ZONE_NORMAL)).toBe(true);
    // ZONE_MOVABLE is still all free, and movable allocations get it
    const f = folioAlloc(mem, 0, 0);
    expect(isZoneMovablePage(mem, f)).toBe(true);
    for (const n of normal) folioPut(mem, n);
    folioPut(mem, f);
    expect(checkPhysicalMemory(mem)).toEqual([]);
  });

  it('keeps unmovable allocations out of MIGRATE_CMA pageblocks; movable ones may use them', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    // every pageblock but the first (which holds the zero page) is a CMA area, declared as
    // at boot (its free pages go to the CMA free lists)
    declareCmaArea(mem, PAGEBLOCK_NR_PAGES, PAGEBLOCK_NR_PAGES);
    expect(isMigrateCmaPage(mem, PAGEBLOCK_NR_PAGES)).toBe(true);
    expect(isMigrateCmaPage(mem, 0)).toBe(false);
    const unmovable: number[] = [];
    for (;;) {
      const f = folioAlloc(mem, 0, 0, { movable: false });
      if (f < 0) break;
      unmovable.push(f);
    }
    expect(unmovable.length).toBe(PAGEBLOCK_NR_PAGES - 1);
    expect(unmovable.every((f) => f < PAGEBLOCK_NR_PAGES)).toBe(true);
    // a movable allocation still finds the CMA block
    const m = folioAlloc(mem, HPAGE_PMD_ORDER, 0);
    expect(m).toBe(PAGEBLOCK_NR_PAGES);
  });

  it('leaves allocation order unchanged on a machine without zones or CMA (the default path)', () => {
    const a = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    const b = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    for (let i = 0; i < 50; i++) {
      const order = i % 3;
      expect(folioAlloc(a, order, 0)).toBe(folioAlloc(b, order, 0, { movable: false }));
    }
  });
});

describe('folio_is_longterm_pinnable (include/linux/mm.h, 6.3)', () => {
  it('refuses ZONE_MOVABLE folios and accepts ZONE_NORMAL ones', () => {
    const mem = zoned();
    const movable = folioAlloc(mem, 0, 0);
    const normal = folioAlloc(mem, 0, 0, { movable: false });
    expect(isZoneMovablePage(mem, movable)).toBe(true);
    expect(folioIsLongtermPinnable(mem, movable)).toBe(false);
    expect(folioIsLongtermPinnable(mem, normal)).toBe(true);
  });

  it('refuses a folio in a MIGRATE_CMA or MIGRATE_ISOLATE pageblock, even in ZONE_NORMAL', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    const f = folioAlloc(mem, 0, 0);
    expect(folioIsLongtermPinnable(mem, f)).toBe(true);
    setPageblockMigratetype(mem, f, MIGRATE_CMA);
    expect(folioIsLongtermPinnable(mem, f)).toBe(false);
    setPageblockMigratetype(mem, f, MIGRATE_ISOLATE);
    expect(folioIsLongtermPinnable(mem, f)).toBe(false);
    setPageblockMigratetype(mem, f, MIGRATE_MOVABLE);
    expect(folioIsLongtermPinnable(mem, f)).toBe(true);
  });

  it('accepts the zero page, but not in a CMA pageblock (the migratetype is checked first)', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    expect(folioIsLongtermPinnable(mem, mem.zeroPfn)).toBe(true);
    setPageblockMigratetype(mem, mem.zeroPfn, MIGRATE_CMA);
    expect(folioIsLongtermPinnable(mem, mem.zeroPfn)).toBe(false);
  });

  it('throws a typed error for a free frame', () => {
    const mem = zoned();
    expect(() => folioIsLongtermPinnable(mem, 1500)).toThrow(MmsimError);
  });
});
