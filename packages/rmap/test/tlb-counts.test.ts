import { type Folio, folioGet, folioPut } from '@mmsim/folio';
import { Completion, type KernelGen, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type MmView, TTU_BATCH_FLUSH } from '../src/index.js';
import { mutableMm } from '../src/internal.js';
import {
  type RmapMachine as Machine,
  createRmapMachine as machine,
  runAndCheck,
} from '../src/testing/index.js';

const N = 16;

interface Counts {
  shootdowns: number;
  ipis: number;
  remoteFlushEvents: number;
  receivedEvents: number;
  localOne: number;
  localAll: number;
  ns: number;
}

/**
 * Touches N pages from tasks on `userCpus`, then, from CPU 0, unmaps them all with
 * try_to_migrate(flags) (and one try_to_unmap_flush), counting the flushes; then puts the
 * mappings back. With `ownTask` the unmapper is a task of the process (it reads a page
 * first, as move_pages(2) on itself would run with the mm loaded); otherwise it is a
 * kernel thread, and CPU 0 keeps the mm of its last user task lazily.
 */
function unmapN(userCpus: readonly number[], flags: number, ownTask = false): Counts {
  const m: Machine = machine({ cpuNodes: [0, 0, 0, 0, 0], nodes: [4096] });
  const { vm, rt, locks, mem, vmstat } = m;
  const p: MmView = vm.createProcess();
  const addr = vm.mmap(p, { length: N * 4096 });
  const touched = new Completion(rt, 'touched');
  let counts: Counts | null = null;
  userCpus.forEach((cpu, i) => {
    rt.spawn(`user${cpu}`, cpu, function* (): KernelGen {
      for (let k = 0; k < N; k++) yield* vm.userWrite(p, addr + k * 4096, i * 100 + k);
      touched.complete();
    });
  });
  rt.spawn('unmapper', 0, function* (): KernelGen {
    for (let i = 0; i < userCpus.length; i++) yield* touched.wait();
    if (ownTask) yield* vm.userRead(p, addr);
    expect(p.cpusInMask).toBe(userCpus.length);
    expect(vm.tlbIsLazy(0)).toBe(!ownTask && userCpus.includes(0));
    const folios: Folio[] = [];
    for (let k = 0; k < N; k++) folios.push(vm.followPage(p, addr + k * 4096));
    vm.tlbStats.reset();
    const ev0 = vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH);
    const rcv0 = vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED);
    const t0 = rt.cpus[0]!.clock;
    for (const f of folios) {
      folioGet(mem, f);
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, flags);
      expect(vm.folioMapped(f)).toBe(false);
    }
    vm.tryToUnmapFlush();
    const s = vm.tlbStats;
    counts = {
      shootdowns: s.shootdowns,
      ipis: s.ipisSent,
      remoteFlushEvents: vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH) - ev0,
      receivedEvents: vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED) - rcv0,
      localOne: s.localFlushOne,
      localAll: s.localFlushAll,
      ns: rt.cpus[0]!.clock - t0,
    };
    for (const f of folios) {
      yield* vm.removeMigrationPtes(f, f, false);
      locks.folioUnlock(f);
      folioPut(mem, f);
    }
    for (let k = 0; k < N; k++)
      expect(yield* vm.userRead(p, addr + k * 4096)).toBe((userCpus.length - 1) * 100 + k);
    yield* vm.exit(p);
  });
  runAndCheck(m);
  return counts!;
}

describe('TLB flush counts of try_to_migrate', () => {
  it('an mm active on 4 other CPUs: N shootdowns without batching, one with it', () => {
    const plain = unmapN([1, 2, 3, 4], 0);
    expect(plain).toMatchObject({
      shootdowns: N,
      ipis: 4 * N,
      remoteFlushEvents: N,
      receivedEvents: 4 * N,
    });
    const batched = unmapN([1, 2, 3, 4], TTU_BATCH_FLUSH);
    expect(batched).toMatchObject({
      shootdowns: 1,
      ipis: 4,
      remoteFlushEvents: 1,
      receivedEvents: 4,
    });
    // Costs follow: each shootdown costs the initiator a round of IPIs.
    expect(batched.ns).toBeLessThan(plain.ns);
  });

  it('an mm active only on the current CPU sends no IPI, batched or not', () => {
    const plain = unmapN([0], 0, true);
    expect(plain).toMatchObject({ shootdowns: 0, ipis: 0, localOne: N });
    const batched = unmapN([0], TTU_BATCH_FLUSH, true);
    // should_defer_flush is false for a purely local mm: flushed at once, page by page.
    expect(batched).toMatchObject({ shootdowns: 0, ipis: 0, localOne: N, localAll: 0 });
  });

  it('a kernel thread on a CPU lazy with the mm: the first flush leaves for init_mm, no local flush after', () => {
    // flush_tlb_func on a lazy CPU switches to init_mm (arch/x86/mm/tlb.c, 6.3): CPU 0
    // leaves mm_cpumask at the first flush and flushes nothing itself.
    const plain = unmapN([0], 0);
    expect(plain).toMatchObject({ shootdowns: 0, ipis: 0, localOne: 0, localAll: 0 });
    const batched = unmapN([0], TTU_BATCH_FLUSH);
    expect(batched).toMatchObject({ shootdowns: 0, ipis: 0, localOne: 0, localAll: 0 });
  });

  it('the batch records pending CPUs and generations; flush_tlb_batched_pending catches up', () => {
    const m = machine({ cpuNodes: [0, 0, 0], nodes: [4096] });
    const { vm, rt, locks, mem } = m;
    const p = vm.createProcess();
    const addr = vm.mmap(p, { length: 2 * 4096 });
    rt.spawn('user', 1, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.userRead(p, addr + 4096);
    });
    rt.spawn('migrator', 2, function* (): KernelGen {
      const f = vm.followPage(p, addr);
      folioGet(mem, f);
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, TTU_BATCH_FLUSH);
      const batch = vm.tlbBatch();
      expect(batch.flushRequired).toBe(true);
      expect(batch.writable).toBe(true); // the PTE was dirty
      expect(batch.pendingCpus).toEqual([1]);
      expect(vm.tlbFlushBatched(p)).toEqual({ pending: 1, flushed: 0 });
      // The stale entry on CPU 1 is still there until the flush.
      expect(mutableMm(p).tlb[1]?.has(addr / 4096)).toBe(true);
      vm.tryToUnmapFlushDirty();
      expect(batch.flushRequired).toBe(false);
      expect(mutableMm(p).tlb[1]?.has(addr / 4096)).toBe(false);
      // try_to_unmap_flush does not update the flushed generation; munmap's
      // flush_tlb_batched_pending does, with one more full flush of the mm.
      expect(vm.tlbFlushBatched(p)).toEqual({ pending: 1, flushed: 0 });
      const before = vm.tlbStats.shootdowns;
      vm.flushTlbBatchedPending(p);
      expect(vm.tlbStats.shootdowns).toBe(before + 1);
      expect(vm.tlbFlushBatched(p)).toEqual({ pending: 1, flushed: 1 });
      vm.flushTlbBatchedPending(p);
      expect(vm.tlbStats.shootdowns).toBe(before + 1);
      yield* vm.removeMigrationPtes(f, f, false);
      locks.folioUnlock(f);
      folioPut(mem, f);
      expect(yield* vm.userRead(p, addr)).toBe(1);
    });
    runAndCheck(m);
  });
});
