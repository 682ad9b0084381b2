import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon } from '@mmsim/rmap/test';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MR_NUMA_MISPLACED, VARIANTS, type VariantName } from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
} from '../src/testing/index.js';

/**
 * Linux 6.4's change to the batched unmap of migration: Huang Ying's 4d4b6d66db63
 * "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible" (6.4-rc1).
 * `set_tlb_ubc_flush_pending()` records no deferred flush for a PTE that is not
 * `pte_accessible()`: a PROT_NONE NUMA hinting entry (`change_prot_numa`) whose change has
 * been flushed cannot be in any TLB, so migrating such pages needs no shootdown.
 */

const N = 64;

/** A process whose threads wrote its N pages on all 8 CPUs (all in mm_cpumask). */
function processOn8Cpus(m: Machine, done: Completion): { mm: MmView; addr: number } {
  const mm = m.vm.createProcess('app');
  const addr = mapAnon(m, mm, N);
  for (let cpu = 0; cpu < 8; cpu++) {
    spawn(m, `app/${cpu}`, cpu, function* (): KernelGen {
      for (let i = cpu; i < N; i += 8) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, 1000 + i);
      done.complete();
    });
  }
  return { mm, addr };
}

interface Seen {
  deferred: number;
  skipped: number;
  batchFlushes: number;
  shootdowns: number;
  ipis: number;
}

/**
 * `task_numa_work` makes the process's pages PROT_NONE, then they are migrated to node 1
 * with MIGRATE_ASYNC (TTU_BATCH_FLUSH in every variant since 6.3-rc3). Returns the flush
 * counts of the migration.
 */
function migrateProtNone(variant: VariantName): Seen {
  const m = buildMachine({ variant, nodes: [4096, 4096] });
  const done = new Completion(m.rt, 'app done');
  const { mm, addr } = processOn8Cpus(m, done);
  let seen: Seen | null = null;
  spawn(m, 'migrate', 0, function* (): KernelGen {
    for (let i = 0; i < 8; i++) yield* done.wait();
    yield* m.lru.lruAddDrainAll(); // the per-CPU LRU batches hold references
    expect(yield* m.vm.changeProtNuma(mm, addr, N * PAGE_SIZE)).toBe(N);
    const folios = foliosOf(m, mm, addr, N);
    const list = newList(m);
    yield* isolateFolios(m, folios, list);
    m.vm.tlbStats.reset();
    const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_NUMA_MISPLACED);
    expect(rc).toBe(0);
    expect(stats.nrSucceeded).toBe(N);
    const s = m.vm.tlbStats;
    seen = {
      deferred: s.deferredFlushes,
      skipped: s.inaccessibleSkipped,
      batchFlushes: s.batchFlushes,
      shootdowns: s.shootdowns,
      ipis: s.ipisSent,
    };
    // The data moved, and the pages are usable again after the migration.
    for (let i = 0; i < N; i++) {
      expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(1000 + i);
    }
  });
  runAll(m);
  expectQuiescent(m); // the stale-TLB check included
  return seen!;
}

describe('v6.4: no batched TLB flush for an inaccessible PTE (4d4b6d66db63)', () => {
  it('migrating PROT_NONE pages: v6.3 defers a flush per PTE and IPIs the 7 other CPUs once, v6.4 sends nothing', () => {
    expect(migrateProtNone('v6.3')).toEqual({
      deferred: N,
      skipped: 0,
      batchFlushes: 1,
      shootdowns: 1,
      ipis: 7,
    });
    expect(migrateProtNone('v6.4')).toEqual({
      deferred: 0,
      skipped: N,
      batchFlushes: 0,
      shootdowns: 0,
      ipis: 0,
    });
  });

  it('every variant from v6.4 on skips them, every one before records them', () => {
    for (const name of Object.keys(VARIANTS) as VariantName[]) {
      const after = ['v6.4', 'v6.10', 'v6.11', 'v6.12', 'v6.17', 'batch-copy'].includes(name);
      expect(VARIANTS[name].tlbBatchSkipsInaccessible, name).toBe(after);
    }
  });
});
