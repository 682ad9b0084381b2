import { Mutex } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { HugetlbRmap, RmapState } from '../src/internal.js';
import { createRmapMachine } from '../src/testing/index.js';

describe('hugetlb_fault_mutex_table, made on first use', () => {
  it('gives each mutex the footprint ids it had when the table was made whole', () => {
    const m = createRmapMachine();
    const { rt, mem, locks, vmstat } = m;
    const ctx = new RmapState(rt, mem, locks, vmstat, {});
    const first = rt.newObjectId() + 1;
    const h = new HugetlbRmap(ctx);
    // roundup_pow_of_two(8 * CPUs) mutexes, two ids each (the lock, its wait queue).
    const n = h.nrFaultMutexes;
    expect(n).toBeGreaterThanOrEqual(8 * rt.cpus.length);
    expect(n & (n - 1)).toBe(0);
    expect(rt.newObjectId()).toBe(first + 2 * n);
    // The eager table: its mutexes took the ids in order, first, first + 2, ...
    const eager = Array.from({ length: n }, (_, i) => new Mutex(rt, `eager ${i}`));
    expect(eager[1]!.objectId - eager[0]!.objectId).toBe(2);
    // Made out of order, each lazy mutex has the id of its place, and is made once.
    for (const i of [n - 1, 3, 0]) {
      const mutex = h.faultMutexAt(i);
      expect(mutex.objectId).toBe(first + 2 * i);
      expect(mutex.name).toBe(`hugetlb_fault_mutex ${i}`);
      expect(h.faultMutexAt(i)).toBe(mutex);
    }
    // The hash picks one of the table's mutexes.
    const picked = h.faultMutex(7, 12);
    expect((picked.objectId - first) % 2).toBe(0);
    expect(h.faultMutexAt((picked.objectId - first) / 2)).toBe(picked);
  });
});
