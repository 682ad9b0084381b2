import { type Folio, FolioList, folioAlloc, folioOrder } from '@mmsim/folio';
import { createKernel, type Kernel, populateFile, type VariantName } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_COMPACTION, type NewFolioFn } from '@mmsim/migrate';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { compactionSkipsFolio, isolateForMigration, migrator } from '../src/actors/migrator.js';
import { nodeScan } from '../src/actors/selectors.js';
import { instantiateScenario, runScenario, splitLockDeadlock } from '../src/index.js';
import { searchSchedules } from './helpers.js';

function kernel(variant: VariantName): Kernel {
  return createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }], variant });
}

describe('compaction isolates large folios only from 6.9 (isolate_migratepages_block)', () => {
  // variant, folio order, cc->order, skipped
  const cases: Array<[VariantName, number, number, boolean]> = [
    ['v6.3', 0, -1, false],
    ['v6.3', 2, -1, true], // 6.3: every compound page, unless alloc_contig
    ['v6.3', 2, 9, true],
    ['v6.10', 0, -1, false],
    ['v6.10', 2, -1, false], // compact_memory: any order below pageblock_order
    ['v6.10', 2, 3, false], // a direct compaction for a larger order
    ['v6.10', 2, 2, true], // ... but not for its own order or less
    ['v6.10', 9, -1, true], // a THP is a whole pageblock
    ['v6.11', 2, -1, false],
    ['v6.11', 9, -1, true],
  ];
  for (const [variant, order, ccOrder, skipped] of cases) {
    it(`${variant}: an order-${order} folio is ${skipped ? 'skipped' : 'isolated'} by a compaction for order ${ccOrder}`, () => {
      const k = kernel(variant);
      const f = folioAlloc(k.mem, order, 0);
      expect(f).toBeGreaterThanOrEqual(0);
      expect(folioOrder(k.mem, f)).toBe(order);
      expect(compactionSkipsFolio(k, f, ccOrder)).toBe(skipped);
    });
  }

  it('the migrator rejects a compactOrder that is not -1 or an order', () => {
    const k = kernel('v6.10');
    const make = (compactOrder: number) =>
      migrator(k, {
        cpu: 0,
        mode: MIGRATE_SYNC,
        reason: MR_COMPACTION,
        rounds: 1,
        style: 'compaction',
        compactOrder,
        select: nodeScan(k, 0),
      });
    expect(() => make(-2)).toThrow(MmsimError);
    expect(() => make(1.5)).toThrow(/compactOrder must be -1 or a folio order/);
    expect(() => make(-1)).not.toThrow();
  });
});

describe('split-lock-deadlock reaches try_split_folio only where compaction isolates large folios', () => {
  it('v6.3: the large EROFS folio is never isolated; only the metadata folio moves, no deadlock', () => {
    const found = searchSchedules(splitLockDeadlock(), 'v6.3', { schedules: 60 });
    expect(found.first?.what ?? null).toBeNull();
    const run = runScenario(splitLockDeadlock(), { variant: 'v6.3', seed: 3 });
    expect(run.result?.status).toBe('completed');
    // compact_memory moves the order-0 metadata folio once, into the pageblock the free
    // scanner takes its targets from (the last one), where the migration scanner never goes;
    // the order-2 file folio stays put.
    expect(run.figures).toMatchObject({ compactionIsolated: 1, compactionMigrated: 1 });
  });

  it('v6.11: the large folio is isolated, the async trylock fails or the split is tried, no deadlock', () => {
    const found = searchSchedules(splitLockDeadlock(), 'v6.11', { schedules: 60 });
    expect(found.first?.what ?? null).toBeNull();
    const run = runScenario(splitLockDeadlock(), { variant: 'v6.11', seed: 3 });
    expect(run.result?.status).toBe('completed');
    // The file folio is isolated in the rounds where the reader does not hold it.
    const { compactionIsolated } = run.figures;
    expect(compactionIsolated ?? 0).toBeGreaterThan(4);
  });

  it('runs through the compaction caller: compact_memory -> compact_node, MIGRATE_SYNC, MR_COMPACTION, the whole zone', () => {
    const inst = instantiateScenario(splitLockDeadlock(), { variant: 'v6.3', seed: 3 });
    const k = inst.kernel;
    const lines: string[] = [];
    for (const name of ['mm_compaction_begin', 'mm_migrate_pages_start']) {
      k.rt.trace.on(name, (e) => lines.push(`${e.name}: ${k.rt.trace.formatFields(e)}`));
    }
    expect(inst.world.actors.map((a) => a.models).join('\n')).toMatch(
      /compact_nodes -> compact_node -> compact_zone \(order -1, MIGRATE_SYNC/,
    );
    expect(k.run().status).toBe('completed');
    // 4 writes of compact_memory, each a whole-zone MIGRATE_SYNC compact_zone of the node.
    const begins = lines.filter((l) => l.startsWith('mm_compaction_begin'));
    expect(begins).toHaveLength(4);
    for (const l of begins) {
      expect(l).toBe(
        'mm_compaction_begin: zone_start=0x0 migrate_pfn=0x0 free_pfn=0x600 zone_end=0x800, mode=sync',
      );
    }
    expect(lines).toContain('mm_migrate_pages_start: mode=MIGRATE_SYNC reason=compaction');
  });

  it('v6.10: the same scenario deadlocks in try_split_folio', () => {
    const found = searchSchedules(splitLockDeadlock(), 'v6.10', { schedules: 60 });
    expect(found.deadlocks).toBe(1);
    expect(found.first?.what).toMatch(/try_split_folio/);
  });
});

describe('migrate_pages_sync counts nr_split as failures from 6.7', () => {
  /**
   * An order-2 file folio alone, MIGRATE_SYNC, and no destination at all: the async phase
   * splits the folio (-ENOMEM), the after-batch retry of the pieces gets -ENOMEM at once,
   * so the four pieces stay on the list. 6.3 counts only THP splits: migrate_pages()
   * returns 0 with pages left on the list; 6.7+ counts the split.
   */
  const cases: Array<[VariantName, number]> = [
    ['v6.3', 0],
    ['v6.10', 1],
    ['v6.11', 1],
  ];
  for (const [variant, rcWant] of cases) {
    it(`${variant}: an order-2 folio split in the async phase, no piece migrated: rc ${rcWant}`, () => {
      const k = kernel(variant);
      const file = k.createFile('f', { content: [1, 2, 3, 4] });
      const none: NewFolioFn<number> = () => null;
      let result: { rc: number; nrSplit: number; remaining: number } | null = null;
      k.rt.spawn('compact_memory', 0, function* (): KernelGen {
        const [large] = yield* populateFile(k, file, [0], { order: 2, nid: 0 });
        const list = new FolioList(k.mem);
        expect(yield* isolateForMigration(k, large as Folio, list, MIGRATE_SYNC)).toBe(true);
        const r = yield* k.migrate.migratePages(list, none, null, 1, MIGRATE_SYNC, MR_COMPACTION);
        result = { rc: r.rc, nrSplit: r.stats.nrSplit, remaining: list.size };
        yield* k.migrate.putbackMovablePages(list);
      });
      expect(k.run().status).toBe('completed');
      expect(result).toEqual({ rc: rcWant, nrSplit: 1, remaining: 4 });
      expect(k.vm.check({ quiescent: true })).toEqual([]);
    });
  }
});
