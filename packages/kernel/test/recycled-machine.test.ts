import { BufferRecycler } from '@mmsim/folio';
import { MIGRATE_SYNC, type MigrateCore, MR_SYSCALL } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { Kernel, resolveKernelConfig } from '../src/index.js';
import { migrateOne } from './helpers.js';

const CONFIG = { nodes: [{ pages: 64 }, { pages: 64 }] };

/** Faults two pages in on node 0 and migrates one to node 1 (sync, from a syscall). */
function migrateAPage(k: Kernel): void {
  const mm: MmView = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
  k.rt.spawn('main', 0, function* (): KernelGen {
    yield* k.vm.userWrite(mm, addr, 1);
    yield* k.vm.userWrite(mm, addr + PAGE_SIZE, 2);
    yield* k.lru.lruAddDrainAll();
    expect(yield* migrateOne(k, k.vm.followPage(mm, addr), 1, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
  });
  k.run();
}

/** What a machine's counters say: every vmstat line and the migrate core's cost rows. */
function counters(k: Kernel): unknown {
  return {
    vmstat: k.vmstat.entries(),
    node0: k.vmstat.nodeEntries(0),
    node1: k.vmstat.nodeEntries(1),
    reasons: (k.migrate as MigrateCore).reasonCosts.table(),
  };
}

describe('the counters of a machine built from recycled buffers', () => {
  it('start at zero however the previous machine left them, as on a fresh machine', () => {
    const recycler = new BufferRecycler();
    const used = new Kernel(resolveKernelConfig(CONFIG), recycler);
    migrateAPage(used);
    // The run moved the counters that live in machine buffers.
    expect(new Map(used.vmstat.entries()).get('pgmigrate_success')).toBe(1);
    expect((used.migrate as MigrateCore).reasonCosts.table()).toHaveLength(1);
    used.release();
    const kept = recycler.kept;
    const reused = new Kernel(resolveKernelConfig(CONFIG), recycler);
    // The second machine took its buffers back from the recycler, all but the chunk of
    // page->private slots the migration's saved state took, the slots of the page table
    // the faults made and the chunk of CPU 0's TLB the stores filled: a machine takes them
    // when it first sets a page->private, first maps a page of a 2 MiB range and first
    // caches a translation of one.
    expect(recycler.kept).toBe(3);
    expect(kept).toBeGreaterThan(0);
    const fresh = new Kernel(resolveKernelConfig(CONFIG));
    expect(counters(reused)).toEqual(counters(fresh));
    expect(new Map(reused.vmstat.entries()).get('pgmigrate_success')).toBe(0);
    expect((reused.migrate as MigrateCore).reasonCosts.table()).toEqual([]);
    // And the same run on it counts the same as on the fresh machine.
    migrateAPage(reused);
    migrateAPage(fresh);
    expect(recycler.kept).toBe(0);
    expect(counters(reused)).toEqual(counters(fresh));
  });
});

/** Every page table of every process of `k`: its base and its 512 slots. */
function pageTables(k: Kernel): Array<{ base: number; ptes: number[] }> {
  const out: Array<{ base: number; ptes: number[] }> = [];
  for (const mm of k.vm.processes) {
    for (const table of mm.pageTables.values()) {
      out.push({ base: table.base, ptes: Array.from(table.ptes) });
    }
  }
  return out;
}

describe('the page tables of a machine built from recycled buffers', () => {
  it('start empty whatever the previous machine left in their slots, as on a fresh machine', () => {
    const recycler = new BufferRecycler();
    const used = new Kernel(resolveKernelConfig(CONFIG), recycler);
    migrateAPage(used);
    // The used machine's page table holds the two pages' entries (one of them migrated).
    const before = pageTables(used);
    expect(before).toHaveLength(1);
    expect(before[0]?.ptes.filter((pte) => pte !== 0)).toHaveLength(2);
    used.release();
    const reused = new Kernel(resolveKernelConfig(CONFIG), recycler);
    const fresh = new Kernel(resolveKernelConfig(CONFIG));
    // One page touched in the same range: the reused table must hold that one entry only
    // (a table that kept the previous machine's slots would map its second page too).
    for (const k of [reused, fresh]) {
      const mm = k.createProcess('q');
      const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
      k.rt.spawn('toucher', 0, function* (): KernelGen {
        yield* k.vm.userWrite(mm, addr + 2 * PAGE_SIZE, 7);
      });
      k.run();
    }
    const tables = pageTables(reused);
    expect(tables).toHaveLength(1);
    expect(tables[0]?.ptes.filter((pte) => pte !== 0)).toHaveLength(1);
    expect(tables).toEqual(pageTables(fresh));
    expect(recycler.kept).toBe(1);
  });
});
