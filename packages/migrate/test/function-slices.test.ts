import { folioGet, folioPut } from '@mmsim/folio';
import { newList, runAll, spawn } from '@mmsim/lru/test';
import { describe, expect, it } from 'vitest';
import type { MigrateMode, VariantName } from '../src/index.js';
import { MIGRATE_ASYNC, MIGRATE_SYNC, MR_MEMORY_HOTPLUG, MR_SYSCALL } from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  hugetlbfsFolio,
  type MigrateMachine as Machine,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * The kernel functions a run enters, as function_graph would show them: one line per
 * entry, indented by depth, and the depth back at zero at the end (every slice closed).
 */
function listenToFunctions(m: Machine): () => string[] {
  const lines: string[] = [];
  let depth = 0;
  m.rt.trace.on('funcgraph_entry', (e) => {
    lines.push(`${'  '.repeat(depth)}${(e.fields as { func: string }).func}`);
    depth++;
  });
  m.rt.trace.on('funcgraph_exit', () => {
    depth--;
  });
  return () => {
    expect(depth).toBe(0);
    return lines;
  };
}

function migrateOneAnonFolio(variant: VariantName, mode: MigrateMode): string[] {
  const m = buildMachine({ variant });
  const slices = listenToFunctions(m);
  spawn(m, 'migrator', 0, function* () {
    const { list } = yield* anonIsolated(m, 1);
    const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
    expect(rc).toBe(0);
  });
  runAll(m);
  return slices();
}

describe('function slices are declared where the kernel function is defined', () => {
  // 6.3's migrate_pages() passes every list through migrate_hugetlbs() first.
  it('v6.3, MIGRATE_SYNC: hugetlb first, the async batch, unmap, one TLB flush, then move', () => {
    expect(migrateOneAnonFolio('v6.3', MIGRATE_SYNC)).toEqual([
      'migrate_hugetlbs',
      'migrate_pages_sync',
      '  migrate_pages_batch',
      '    migrate_folio_unmap',
      '      try_to_migrate',
      '    try_to_unmap_flush',
      '    migrate_folio_move',
      '      move_to_new_folio',
      '      remove_migration_ptes',
    ]);
  });

  it('v6.3, MIGRATE_ASYNC: the batch is called from migrate_pages itself', () => {
    expect(migrateOneAnonFolio('v6.3', MIGRATE_ASYNC)).toEqual([
      'migrate_hugetlbs',
      'migrate_pages_batch',
      '  migrate_folio_unmap',
      '    try_to_migrate',
      '  try_to_unmap_flush',
      '  migrate_folio_move',
      '    move_to_new_folio',
      '    remove_migration_ptes',
    ]);
  });

  it('v6.2: unmap_and_move, with the same rmap and move slices and no batch flush', () => {
    expect(migrateOneAnonFolio('v6.2', MIGRATE_SYNC)).toEqual([
      'unmap_and_move',
      '  __unmap_and_move',
      '    try_to_migrate',
      '    move_to_new_folio',
      '    remove_migration_ptes',
    ]);
  });

  // What is left after migrate_hugetlbs() (nothing) still goes through the sync path, whose
  // batch flushes the (empty) TLB batch, as 6.3 does.
  it('hugetlb: migrate_hugetlbs and unmap_and_move_huge_page', () => {
    const m = buildMachine({ hugetlbPages: [2, 1] });
    const slices = listenToFunctions(m);
    spawn(m, 'migrator', 0, function* () {
      const file = m.vm.createFile('hugetlbfs');
      const list = newList(m);
      expect(m.core.isolateHugetlb(hugetlbfsFolio(m, file, 0, 0, 1), list)).toBe(true);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
    });
    runAll(m);
    expect(slices()).toEqual([
      'migrate_hugetlbs',
      '  unmap_and_move_huge_page',
      '    move_to_new_folio',
      'migrate_pages_sync',
      '  migrate_pages_batch',
      '    try_to_unmap_flush',
    ]);
  });

  it('nothing is emitted, and the schedule is the same, when nobody listens', () => {
    const run = (listen: boolean) => {
      const m = buildMachine({ variant: 'v6.3', strategy: 'random', seed: 5 });
      if (listen) listenToFunctions(m);
      spawn(m, 'migrator', 0, function* () {
        const { list } = yield* anonIsolated(m, 4);
        yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      });
      return runAll(m).replayToken;
    };
    expect(run(true)).toBe(run(false));
  });
});

/** The folio-journey model events of a run, as `event pfn...` lines. */
function listenToJourneys(m: Machine): string[] {
  const lines: string[] = [];
  const hex = (n: unknown) => `0x${(n as number).toString(16)}`;
  m.rt.trace.on('mmsim_folio_isolated', (e) => lines.push(`isolated ${hex(e.fields.pfn)}`));
  m.rt.trace.on('mmsim_folio_moved', (e) =>
    lines.push(`moved ${hex(e.fields.src)} -> ${hex(e.fields.dst)}`),
  );
  m.rt.trace.on('mmsim_folio_done', (e) => lines.push(`${e.fields.fate} ${hex(e.fields.pfn)}`));
  return lines;
}

describe("a folio's journey: isolated, moved src -> dst, then freed or put back", () => {
  for (const variant of ['v6.2', 'v6.3'] as const) {
    it(`${variant}: every engine gives the same journey for a migrated anon folio`, () => {
      const m = buildMachine({ variant });
      const journeys = listenToJourneys(m);
      let src = 0;
      let dst = 0;
      spawn(m, 'migrator', 0, function* () {
        const { list, folios, mm, addr } = yield* anonIsolated(m, 1);
        src = folios[0] as number;
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
        expect(rc).toBe(0);
        dst = m.vm.followPage(mm, addr);
      });
      runAll(m);
      const hex = (n: number) => `0x${n.toString(16)}`;
      expect(dst).not.toBe(src);
      expect(journeys).toEqual([
        `isolated ${hex(src)}`,
        `moved ${hex(src)} -> ${hex(dst)}`,
        `freed ${hex(src)}`,
      ]);
    });
  }

  it('hugetlb: the same journey through unmap_and_move_huge_page', () => {
    const m = buildMachine({ hugetlbPages: [2, 1] });
    const journeys = listenToJourneys(m);
    let src = 0;
    spawn(m, 'migrator', 0, function* () {
      const file = m.vm.createFile('hugetlbfs');
      const list = newList(m);
      src = hugetlbfsFolio(m, file, 0, 0, 1);
      expect(m.core.isolateHugetlb(src, list)).toBe(true);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_HOTPLUG);
      expect(rc).toBe(0);
    });
    runAll(m);
    expect(journeys).toHaveLength(3);
    expect(journeys[0]).toBe(`isolated 0x${src.toString(16)}`);
    expect(journeys[1]).toMatch(new RegExp(`^moved 0x${src.toString(16)} -> 0x[0-9a-f]+$`));
    expect(journeys[1]).not.toMatch(new RegExp(`-> 0x${src.toString(16)}$`));
    expect(journeys[2]).toBe(`freed 0x${src.toString(16)}`);
  });

  it('a folio that cannot move (an extra reference) is put back, never moved', () => {
    const m = buildMachine({ variant: 'v6.3' });
    const journeys = listenToJourneys(m);
    let pinned = 0;
    spawn(m, 'migrator', 0, function* () {
      const { list, folios } = yield* anonIsolated(m, 1);
      pinned = folios[0] as number;
      folioGet(m.mem, pinned);
      yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      yield* m.core.putbackMovablePages(list);
      folioPut(m.mem, pinned);
    });
    runAll(m);
    expect(journeys).toEqual([
      `isolated 0x${pinned.toString(16)}`,
      `putback 0x${pinned.toString(16)}`,
    ]);
  });
});
