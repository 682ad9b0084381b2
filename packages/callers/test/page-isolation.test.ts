import {
  allocPfn,
  folioSetFlag,
  MIGRATE_CMA,
  MIGRATE_MOVABLE,
  PG_lru,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC } from '@mmsim/migrate';
import { EBUSY } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { CompactControl, suitableMigrationTarget, testPagesIsolated } from '../src/index.js';

describe('isolated pageblocks and compaction', () => {
  it("suitable_migration_target refuses an isolated pageblock as the free scanner's target, and accepts it again after undo", () => {
    const k = createKernel({ nodes: [{ pages: 2048 }], cma: [{ base: 1536, pages: 512 }] });
    const cc = new CompactControl(k, { order: 2, mode: MIGRATE_ASYNC, nid: 0 });
    // A page in use at each block's start, so the block is not one large free page.
    folioSetFlag(k.mem, allocPfn(k.mem, 512) as number, PG_lru); // movable: isolation allows it
    allocPfn(k.mem, 1536);
    expect(suitableMigrationTarget(k, cc, 512)).toBe(true);
    expect(suitableMigrationTarget(k, cc, 1536)).toBe(true); // MIGRATE_CMA is movable
    expect(startIsolatePageRange(k.mem, 512, 1024, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(suitableMigrationTarget(k, cc, 512)).toBe(false);
    undoIsolatePageRange(k.mem, 512, 1024, MIGRATE_MOVABLE);
    expect(suitableMigrationTarget(k, cc, 512)).toBe(true);
    expect(startIsolatePageRange(k.mem, 1536, 2048, MIGRATE_CMA, 0)).toBe(0);
    expect(suitableMigrationTarget(k, cc, 1536)).toBe(false);
  });

  it('test_pages_isolated fires its tracepoint with the pfn where it stopped', () => {
    const k = createKernel({ nodes: [{ pages: 2048 }] });
    const lines: string[] = [];
    k.rt.trace.on('test_pages_isolated', (e) => lines.push(k.rt.trace.formatFields(e)));
    expect(testPagesIsolated(k, 512, 1024, 0)).toBe(-EBUSY); // not isolated
    expect(startIsolatePageRange(k.mem, 512, 1024, MIGRATE_MOVABLE, 0)).toBe(0);
    expect(testPagesIsolated(k, 512, 1024, 0)).toBe(0);
    expect(lines).toEqual([
      'start_pfn=0x200 end_pfn=0x400 fin_pfn=0x200 ret=fail',
      'start_pfn=0x200 end_pfn=0x400 fin_pfn=0x400 ret=success',
    ]);
  });
});
