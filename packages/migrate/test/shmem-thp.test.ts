import {
  folioAlloc,
  folioNid,
  folioOrder,
  folioPut,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  pfnFolio,
} from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { MAP_ANONYMOUS, MAP_SHARED, type MmView, PAGE_SIZE, PMD_SIZE } from '@mmsim/rmap';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_SYNC, MR_SYSCALL, type VariantName } from '../src/index.js';
import { trySplitFolio } from '../src/internal.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * Migrating a PMD-size shmem folio whole (mm/migrate.c, 6.3): `migrate_folio` ->
 * `folio_migrate_mapping` freezes it at 1 + 512 (the isolation reference and one cache
 * reference per page), stores the new folio in each of its 512 i_pages slots, and moves
 * nr_file_pages / nr_shmem; the PMD mappings become PMD migration entries (6.3 has them
 * for file THPs too: `try_to_migrate_one` does not look at the folio's kind) and come back
 * as PMDs of the new folio.
 */

const WORDS = [0, 1, 5, 300, 511];

function* setUp(m: Machine): KernelGen<{ mms: MmView[]; addr: number; folio: number }> {
  const p = m.vm.createProcess('p');
  const addr = m.vm.mmap(p, { length: PMD_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
  for (const i of WORDS) yield* m.vm.userWrite(p, addr + i * PAGE_SIZE, 1000 + i);
  const child = yield* m.vm.fork(p, 'child');
  expect(yield* m.vm.userRead(child, addr + 5 * PAGE_SIZE)).toBe(1005);
  const folio = pfnFolio(m.mem, m.vm.followPage(p, addr));
  expect(folioOrder(m.mem, folio)).toBe(HPAGE_PMD_ORDER);
  // do_set_pmd: both processes map it by one PMD (the child faulted it in after fork).
  for (const mm of [p, child]) expect(m.vm.lookupPte(mm, addr).level).toBe('pmd');
  return { mms: [p, child], addr, folio };
}

function migrateShmemThp(variant: VariantName) {
  const m = buildMachine({ variant, shmemEnabled: 'always' });
  const seen: { dst: number; rc: number } = { dst: -1, rc: -1 };
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const { mms, addr, folio } = yield* setUp(m);
    const file = mms[0]!.vmaLookup(addr)!.file!;
    const list = newList(m);
    expect(yield* isolateFolios(m, [folio], list)).toBe(1);
    const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
    seen.rc = rc;
    const dst = pfnFolio(m.mem, m.vm.followPage(mms[0]!, addr));
    seen.dst = dst;
    expect(folioNid(m.mem, dst)).toBe(1);
    expect(folioOrder(m.mem, dst)).toBe(HPAGE_PMD_ORDER);
    for (let i = 0; i < HPAGE_PMD_NR; i++) expect(file.lookup(i)).toBe(dst);
    // set_pmd_migration_entry / remove_migration_pmd: still one PMD in each process.
    for (const mm of mms) expect(m.vm.lookupPte(mm, addr).level).toBe('pmd');
    for (const mm of mms) {
      for (const i of WORDS) {
        expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
        expect(m.vm.followPage(mm, addr + i * PAGE_SIZE)).toBe(dst + i);
      }
    }
  });
  runAll(m);
  expectQuiescent(m);
  return { m, seen };
}

function node(m: Machine, nid: number, item: number): number {
  return m.vmstat.nodePageState(nid, item);
}

describe('shmem THP migrated whole (folio_migrate_mapping, 6.3)', () => {
  it('v6.3: one folio of 512 pages moves, every i_pages slot holds the new folio, mappings follow', () => {
    const { m, seen } = migrateShmemThp('v6.3');
    expect(seen.rc).toBe(0);
    expect(m.vmstat.vmEvent(VmEvent.THP_MIGRATION_SUCCESS)).toBe(1);
    expect(m.vmstat.vmEvent(VmEvent.THP_MIGRATION_SPLIT)).toBe(0);
    expect(m.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(HPAGE_PMD_NR);
    expect(node(m, 0, NodeStat.NR_FILE_PAGES)).toBe(0);
    expect(node(m, 1, NodeStat.NR_FILE_PAGES)).toBe(HPAGE_PMD_NR);
    expect(node(m, 0, NodeStat.NR_SHMEM)).toBe(0);
    expect(node(m, 1, NodeStat.NR_SHMEM)).toBe(HPAGE_PMD_NR);
  });

  it('v6.3 leaves nr_shmem_hugepages on the old node (the counter fix came in 6.5)', () => {
    const { m } = migrateShmemThp('v6.3');
    expect(node(m, 0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
    expect(node(m, 1, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(0);
  });

  it('v6.10 (migrateMovesShmemThps, 6.5) moves nr_shmem_hugepages with the folio', () => {
    const { m, seen } = migrateShmemThp('v6.10');
    expect(seen.rc).toBe(0);
    expect(node(m, 0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(0);
    expect(node(m, 1, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
  });
});

describe('NR_FILE_THPS on the split of a page-cache folio (split_huge_page_to_list)', () => {
  function splitOrder2(variant: VariantName): number {
    const m = buildMachine({ variant });
    spawn(m, 'split', 0, function* (): KernelGen {
      const file = m.vm.createFile('data');
      const folio = folioAlloc(m.mem, 2, 0);
      expect(yield* m.vm.filemapAddFolio(file, folio, 8)).toBe(0);
      m.locks.folioUnlock(folio);
      folioPut(m.mem, folio);
      const list = newList(m);
      expect(yield* isolateFolios(m, [folio], list)).toBe(1);
      const split = newList(m);
      expect(yield* trySplitFolio(m.core.env, folio, split, MIGRATE_SYNC)).toBe(0);
      yield* m.core.putbackMovablePages(split);
    });
    runAll(m);
    expectQuiescent(m);
    return node(m, 0, NodeStat.NR_FILE_HUGEPAGES);
  }

  it('v6.3 lowers nr_file_hugepages for an order-2 folio it never counted: the counter goes negative', () => {
    expect(splitOrder2('v6.3')).toBe(-4);
  });

  it('v6.10 (splitThpCountersPmdOnly, 6.7) leaves it alone', () => {
    expect(splitOrder2('v6.10')).toBe(0);
  });
});
