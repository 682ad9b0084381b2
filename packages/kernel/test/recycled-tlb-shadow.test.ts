import { BufferRecycler } from '@mmsim/folio';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { Kernel, resolveKernelConfig } from '../src/index.js';

const CONFIG = { nodes: [{ pages: 256 }, { pages: 256 }] };

/**
 * A process's user accesses on CPU 0: stores to the pages of `stores`, recorded in the
 * shadow as a user task records them, then loads of the pages of `loads`, checked against
 * it. Returns what the loads saw, the TLB's counts and the shadow's report.
 */
function accesses(k: Kernel, stores: number[], loads: number[]): unknown {
  const mm: MmView = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: 16 * PAGE_SIZE });
  const seen: Array<[number, boolean]> = [];
  k.rt.spawn('user', 0, function* (): KernelGen {
    const me = k.shadow.writerIndex('user');
    for (const page of stores) {
      const at = addr + page * PAGE_SIZE;
      yield* k.vm.userWrite(mm, at, 100 + page);
      k.shadow.wroteUserAccess(mm, at, 100 + page, me);
    }
    for (const page of loads) {
      const at = addr + page * PAGE_SIZE;
      const got = yield* k.vm.userRead(mm, at);
      seen.push([got, k.shadow.readUserAccess(mm, at, got, 'user')]);
    }
  });
  k.run();
  const stats = k.vm.tlbStats;
  return {
    seen,
    hits: stats.tlbHits,
    misses: stats.tlbMisses,
    shadow: k.shadow.size,
    report: k.shadow.verifyAll(),
  };
}

describe('the TLB and the shadow of a machine built from recycled buffers', () => {
  it('take their chunks from the machine and start empty, as on a fresh machine', () => {
    const recycler = new BufferRecycler();
    const used = new Kernel(resolveKernelConfig(CONFIG), recycler);
    accesses(used, [0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]);
    used.release();
    const reused = new Kernel(resolveKernelConfig(CONFIG), recycler);
    const before = recycler.kept;
    // Fewer pages this time: an entry or a word left from the previous machine at pages
    // 3 to 7 would make a load of them hit the TLB, or be checked against an old store.
    const got = accesses(reused, [0, 1, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
    expect(got).toEqual(
      accesses(new Kernel(resolveKernelConfig(CONFIG)), [0, 1, 2], [0, 1, 2, 3, 4, 5, 6, 7]),
    );
    // The run took, besides the page table's slots, CPU 0's TLB chunk and the shadow's
    // chunk of private words from the recycler (buffers of their own would leave it at 1).
    expect(before - recycler.kept).toBe(3);
  });
});
