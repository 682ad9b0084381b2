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
    // page->private slots the migration's saved state took: a machine takes it when it
    // first sets a page->private.
    expect(recycler.kept).toBe(1);
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
