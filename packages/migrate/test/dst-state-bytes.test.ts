import {
  BufferRecycler,
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioNid,
  pfnFolio,
  releasePhysicalMemory,
} from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { isolateFolios } from '@mmsim/lru/test';
import { PageLockTable } from '@mmsim/page-lock';
import { PAGE_SIZE, VirtualMemory } from '@mmsim/rmap';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MigrateCore, MR_SYSCALL } from '../src/index.js';
import {
  migrateFolioExtract,
  migrateFolioRecord,
  PAGE_WAS_MAPPED,
  PAGE_WAS_MLOCKED,
  recordedPageWasMapped,
} from '../src/migrate-folio-record.js';

/**
 * The 6.7+ `old_page_state` bytes (`dstStateInPrivate`) are a per-frame array of the
 * machine: an explorer's machine, built with a buffer recycler, takes them from it and
 * hands them back with the machine, instead of allocating a backing store per schedule.
 */
function recycledMachine(recycler: BufferRecycler, variant: 'v6.11' | 'v6.3') {
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1] });
  const mem = createPhysicalMemory({ nodes: [{ pages: 512 }, { pages: 512 }] }, recycler);
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  const core = new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm, variant });
  return { rt, mem, vmstat, lru, vm, core };
}

/** Writes `pages` anon pages on node 0 and migrates them to node 1 in one MIGRATE_ASYNC call. */
function migrateAll(m: ReturnType<typeof recycledMachine>, pages: number): number[] {
  const { rt, mem, vm, core } = m;
  const mm = vm.createProcess('p');
  const addr = vm.mmap(mm, { length: pages * PAGE_SIZE });
  const nids: number[] = [];
  rt.spawn('migrate', 0, function* (): KernelGen {
    for (let i = 0; i < pages; i++) yield* vm.userWrite(mm, addr + i * PAGE_SIZE, 100 + i);
    const list = new FolioList(mem);
    const folios = Array.from({ length: pages }, (_, i) =>
      pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE)),
    );
    yield* isolateFolios(m, folios, list);
    const { rc } = yield* core.migratePages(
      list,
      core.allocMigrationTarget,
      null,
      { nid: 1, thisNode: true },
      MIGRATE_ASYNC,
      MR_SYSCALL,
    );
    expect(rc).toBe(0);
    for (let i = 0; i < pages; i++) {
      expect(yield* vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(100 + i);
      nids.push(folioNid(mem, pfnFolio(mem, vm.followPage(mm, addr + i * PAGE_SIZE))));
    }
  });
  expect(rt.run().status).toBe('completed');
  return nids;
}

/** The recycler's kept buffers of `bytes` bytes (taken out of it), up to its limit. */
function keptBuffers(recycler: BufferRecycler, bytes: number): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (let i = 0; i < 16; i++) out.push(recycler.take(bytes));
  return out;
}

describe('the 6.7+ dst state bytes', () => {
  it('round-trip through record and extract, and go back to the recycler with the machine', () => {
    const recycler = new BufferRecycler();
    const m = recycledMachine(recycler, 'v6.11');
    expect(migrateAll(m, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    const bits = m.core.env.dstStateBits;
    expect(bits).not.toBeNull();
    expect(bits!.length).toBe(m.mem.maxPfn);
    // Every extract cleared its byte.
    expect(bits!.every((b) => b === 0)).toBe(true);
    // A record is read back until its extract.
    const dst = folioAlloc(m.mem, 0, 1);
    migrateFolioRecord(m.core.env, dst, PAGE_WAS_MAPPED | PAGE_WAS_MLOCKED, null);
    expect(recordedPageWasMapped(m.core.env, dst)).toBe(PAGE_WAS_MAPPED | PAGE_WAS_MLOCKED);
    migrateFolioExtract(m.core.env, dst);
    expect(recordedPageWasMapped(m.core.env, dst)).toBe(0);
    migrateFolioRecord(m.core.env, dst, PAGE_WAS_MAPPED, null);
    // The machine hands its buffers back, these bytes among them, dirty: the next take
    // zero-fills them.
    const buffer = bits!.buffer;
    releasePhysicalMemory(m.mem);
    const kept = keptBuffers(recycler, m.mem.maxPfn);
    expect(kept).toContain(buffer);
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
  });

  it('are taken only by a variant that keeps its state in dst->private, on its first record', () => {
    const recycler = new BufferRecycler();
    const m63 = recycledMachine(recycler, 'v6.3');
    expect(migrateAll(m63, 3)).toEqual([1, 1, 1]);
    expect(m63.core.env.dstStateBits).toBeNull();
    const m611 = recycledMachine(recycler, 'v6.11');
    expect(m611.core.env.dstStateBits).toBeNull();
    expect(migrateAll(m611, 3)).toEqual([1, 1, 1]);
    expect(m611.core.env.dstStateBits).not.toBeNull();
  });
});
