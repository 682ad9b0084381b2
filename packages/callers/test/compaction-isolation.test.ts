import {
  type Folio,
  folioAlloc,
  folioGet,
  folioPut,
  folioSetFlag,
  getPageblockSkip,
  PG_dirty,
  pfnFolio,
} from '@mmsim/folio';
import {
  createKernel,
  type Kernel,
  populateFile,
  touchPages,
  type VariantName,
} from '@mmsim/kernel';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  type MovableOperations,
  setPageMovable,
} from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { EAGAIN, type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  COMPACT_CLUSTER_MAX,
  CompactControl,
  type CompactionSkip,
  compactionIsolateMode,
  isolateMigratepagesBlock,
  isolateMigratepagesRange,
  onCompactionSkip,
} from '../src/index.js';

/** One node of 2048 pages (four pageblocks), two CPUs. */
function machine(variant: VariantName = 'v6.3'): Kernel {
  return createKernel({ nodes: [{ pages: 2048 }], cpusPerNode: 2, variant });
}

/** A driver whose pages always isolate (the SDK protocol, reduced to its answers). */
const TEST_MOPS: MovableOperations = {
  name: 'test-driver',
  isolatePage: () => true,
  migratePage: () => 0,
  putbackPage: () => {},
};

interface Layout {
  anon: Folio;
  pinned: Folio;
  unmovable: Folio;
  large: Folio;
  writeback: Folio;
  dirtyNoMigrate: Folio;
  movable: Folio;
}

/**
 * Runs `body` in a task after laying out one folio of each kind in node 0's first
 * pageblock, then scans that block with `isolate_migratepages_block` in `mode`.
 */
function scanBlock(
  variant: VariantName,
  mode: MigrateMode,
  init: Partial<ConstructorParameters<typeof CompactControl>[1]> = {},
): {
  layout: Layout;
  skips: CompactionSkip[];
  rc: number;
  isolated: Folio[];
  cc: CompactControl;
  k: Kernel;
} {
  const k = machine(variant);
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
  const file = k.createFile('data', { content: [1, 2, 3, 4, 5, 6, 7, 8] });
  const slow = k.createFile('slowfs', { content: [9] });
  k.migrate.setAddressSpaceOperations(slow, { name: 'slowfs_aops', migrateFolio: null });
  const big = k.createFile('big', { content: [11, 12, 13, 14] });
  const cc = new CompactControl(k, { order: -1, mode, nid: 0, ignore_skip_hint: true, ...init });
  const skips: CompactionSkip[] = [];
  onCompactionSkip(cc, (s) => skips.push(s));
  let layout: Layout | null = null;
  let rc = 0;
  const isolated: Folio[] = [];
  k.rt.spawn('compact', 0, function* (): KernelGen {
    yield* touchPages(k, mm, addr, 2, (i) => 100 + i);
    const anon = pfnFolio(k.mem, k.vm.followPage(mm, addr));
    const pinned = pfnFolio(k.mem, k.vm.followPage(mm, addr + PAGE_SIZE));
    folioGet(k.mem, pinned); // a GUP pin beyond its one mapping
    const unmovable = folioAlloc(k.mem, 0, 0);
    const [large] = yield* populateFile(k, big, [0], { order: 2, nid: 0 });
    const [writeback, clean] = yield* populateFile(k, file, [0, 1], { nid: 0 });
    k.locks.folioTrylock(writeback as Folio);
    k.locks.folioStartWriteback(writeback as Folio);
    k.locks.folioUnlock(writeback as Folio);
    void clean;
    const [dirtyNoMigrate] = yield* populateFile(k, slow, [0], { nid: 0 });
    folioSetFlag(k.mem, dirtyNoMigrate as Folio, PG_dirty);
    const movable = folioAlloc(k.mem, 0, 0);
    setPageMovable(k.mem, movable, TEST_MOPS);
    yield* k.lru.lruAddDrainAll();
    layout = {
      anon,
      pinned,
      unmovable,
      large: large as Folio,
      writeback: writeback as Folio,
      dirtyNoMigrate: dirtyNoMigrate as Folio,
      movable,
    };
    rc = yield* isolateMigratepagesBlock(k, cc, 0, 512, compactionIsolateMode(cc));
    isolated.push(...cc.migratepages);
    yield* k.migrate.putbackMovablePages(cc.migratepages);
    k.locks.folioTrylock(writeback as Folio);
    k.locks.folioEndWriteback(writeback as Folio);
    k.locks.folioUnlock(writeback as Folio);
    folioPut(k.mem, pinned);
  });
  expect(k.run().status).toBe('completed');
  if (layout === null) throw new Error('no layout');
  return { layout, skips, rc, isolated, cc, k };
}

function reasonOf(skips: readonly CompactionSkip[], folio: Folio): string | undefined {
  return skips.find((s) => s.pfn === folio)?.reason;
}

describe('isolate_migratepages_block (6.3): what compaction refuses and why', () => {
  it('MIGRATE_ASYNC: a pinned anon page, a compound page, an unmovable page, a writeback page and a dirty page without migrate_folio are refused', () => {
    const { layout, skips, rc, isolated } = scanBlock('v6.3', MIGRATE_ASYNC);
    expect(rc).toBe(0);
    expect(reasonOf(skips, layout.pinned)).toBe('pinned');
    expect(reasonOf(skips, layout.large)).toBe('compound');
    expect(reasonOf(skips, layout.unmovable)).toBe('not-lru');
    expect(reasonOf(skips, layout.writeback)).toBe('writeback');
    expect(reasonOf(skips, layout.dirtyNoMigrate)).toBe('dirty-no-migrate-folio');
    // ... and what it takes: the plain anon page, the clean file page, the driver's page.
    expect(isolated).toContain(layout.anon);
    expect(isolated).toContain(layout.movable);
    expect(isolated).not.toContain(layout.pinned);
    expect(isolated).not.toContain(layout.writeback);
  });

  it('MIGRATE_SYNC_LIGHT isolates with ISOLATE_ASYNC_MIGRATE too: the writeback page is still refused', () => {
    const { layout, skips } = scanBlock('v6.3', MIGRATE_SYNC_LIGHT);
    expect(reasonOf(skips, layout.writeback)).toBe('writeback');
    expect(reasonOf(skips, layout.dirtyNoMigrate)).toBe('dirty-no-migrate-folio');
  });

  it('MIGRATE_SYNC (compact_memory) takes the writeback and the dirty page, never the pinned one', () => {
    const { layout, skips, isolated } = scanBlock('v6.3', MIGRATE_SYNC);
    expect(isolated).toContain(layout.writeback);
    expect(isolated).toContain(layout.dirtyNoMigrate);
    expect(reasonOf(skips, layout.pinned)).toBe('pinned');
    expect(reasonOf(skips, layout.large)).toBe('compound');
  });

  it('v6.10 (compactionIsolatesLarge): a whole-node compaction isolates the order-2 folio', () => {
    const { layout, skips, isolated } = scanBlock('v6.10', MIGRATE_SYNC);
    expect(reasonOf(skips, layout.large)).toBeUndefined();
    expect(isolated).toContain(layout.large);
  });

  it('v6.10: a compaction for order 2 still passes over an order-2 folio (skip_isolation_on_order)', () => {
    const { layout, skips } = scanBlock('v6.10', MIGRATE_SYNC, { order: 2 });
    expect(reasonOf(skips, layout.large)).toBe('compound');
  });

  it('alloc_contig (isolate_migratepages_range) takes the compound page in 6.3', () => {
    const k = machine('v6.3');
    const big = k.createFile('big', { content: [11, 12, 13, 14] });
    const cc = new CompactControl(k, { order: -1, mode: MIGRATE_SYNC, nid: 0, alloc_contig: true });
    let got: Folio[] = [];
    let large = -1;
    k.rt.spawn('cma', 0, function* (): KernelGen {
      [large] = (yield* populateFile(k, big, [0], { order: 2, nid: 0 })) as [Folio];
      yield* k.lru.lruAddDrainAll();
      expect(yield* isolateMigratepagesRange(k, cc, 0, 512)).toBe(0);
      got = [...cc.migratepages];
      yield* k.migrate.putbackMovablePages(cc.migratepages);
    });
    expect(k.run().status).toBe('completed');
    expect(got).toEqual([large]);
    // alloc_contig never marks a pageblock skipped (cc->no_set_skip_hint)
    expect(getPageblockSkip(k.mem, 0)).toBe(false);
  });

  it('counts compact_isolated and NR_ISOLATED, puts each folio at the head of cc->migratepages (list_add)', () => {
    const k = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const cc = new CompactControl(k, {
      order: -1,
      mode: MIGRATE_SYNC,
      nid: 0,
      ignore_skip_hint: true,
    });
    let list: Folio[] = [];
    let isolatedAnon = 0;
    k.rt.spawn('compact', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 4, (i) => i);
      yield* k.lru.lruAddDrainAll();
      yield* isolateMigratepagesBlock(k, cc, 0, 512, compactionIsolateMode(cc));
      list = [...cc.migratepages];
      isolatedAnon = k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON);
      yield* k.migrate.putbackMovablePages(cc.migratepages);
    });
    expect(k.run().status).toBe('completed');
    expect(list).toHaveLength(4);
    expect([...list].sort((a, b) => b - a)).toEqual(list); // highest pfn first
    expect(isolatedAnon).toBe(4);
    expect(k.vmstat.vmEvent(VmEvent.COMPACT_ISOLATED)).toBe(4);
    expect(cc.total_migrate_scanned).toBe(512);
  });

  it(`stops after COMPACT_CLUSTER_MAX (${COMPACT_CLUSTER_MAX}) isolated pages`, () => {
    const k = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 40 * PAGE_SIZE });
    const cc = new CompactControl(k, {
      order: -1,
      mode: MIGRATE_SYNC,
      nid: 0,
      ignore_skip_hint: true,
    });
    let n = 0;
    k.rt.spawn('compact', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 40, (i) => i);
      yield* k.lru.lruAddDrainAll();
      yield* isolateMigratepagesBlock(k, cc, 0, 512, compactionIsolateMode(cc));
      n = cc.nr_migratepages;
      yield* k.migrate.putbackMovablePages(cc.migratepages);
    });
    expect(k.run().status).toBe('completed');
    expect(n).toBe(COMPACT_CLUSTER_MAX);
    expect(cc.migrate_pfn).toBeLessThan(512);
  });

  it('too_many_isolated: MIGRATE_ASYNC gives up with -EAGAIN', () => {
    const k = machine();
    const mm = k.createProcess('app');
    const addr = k.vm.mmap(mm, { length: 8 * PAGE_SIZE });
    const cc = new CompactControl(k, {
      order: -1,
      mode: MIGRATE_ASYNC,
      nid: 0,
      ignore_skip_hint: true,
    });
    let rc = 0;
    k.rt.spawn('compact', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 8, (i) => i);
      yield* k.lru.lruAddDrainAll();
      // Another isolator holds more than half the LRU (NR_ISOLATED beyond (active+inactive)/16).
      k.vmstat.modNodePageState(0, NodeStat.NR_ISOLATED_ANON, 100);
      rc = yield* isolateMigratepagesBlock(k, cc, 0, 512, compactionIsolateMode(cc));
      k.vmstat.modNodePageState(0, NodeStat.NR_ISOLATED_ANON, -100);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(-EAGAIN);
    expect(cc.nr_migratepages).toBe(0);
  });
});
