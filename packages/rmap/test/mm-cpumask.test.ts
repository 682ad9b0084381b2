import { type Folio, folioGet, folioPut } from '@mmsim/folio';
import { Completion, type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type MmView, TTU_BATCH_FLUSH } from '../src/index.js';
import { mutableMm } from '../src/internal.js';
import {
  type RmapMachine as Machine,
  createRmapMachine as machine,
  runAndCheck,
} from '../src/testing/index.js';

/**
 * mm_cpumask and the lazy TLB state as x86 keeps them (arch/x86/mm/tlb.c, 6.3):
 * `switch_mm_irqs_off` moves a CPU from the previous mm's mask to the next one's,
 * `enter_lazy_tlb` leaves a kernel thread's CPU in the mask but lazy, and
 * `native_flush_tlb_multi` sends no IPI to lazy CPUs.
 */

const N = 8;
const PAGE = 4096;

interface Flushes {
  shootdowns: number;
  ipis: number;
  ipisTo: number[];
  lazySkipped: number;
  remoteFlushEvents: number;
}

/**
 * From the current task (a kernel thread on CPU 0): try_to_migrate(flags) on the N
 * pages of `mm` at `addr`, one try_to_unmap_flush, and the mappings put back. Returns the
 * flushes counted meanwhile.
 */
function* unmapAndRestore(m: Machine, mm: MmView, addr: number, flags: number): KernelGen<Flushes> {
  const { vm, locks, mem, vmstat } = m;
  const folios: Folio[] = [];
  for (let k = 0; k < N; k++) folios.push(vm.followPage(mm, addr + k * PAGE));
  vm.tlbStats.reset();
  const ev0 = vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH);
  for (const f of folios) {
    folioGet(mem, f);
    yield* locks.folioLock(f, 'test');
    yield* vm.tryToMigrate(f, flags);
  }
  vm.tryToUnmapFlush();
  const s = vm.tlbStats;
  const out: Flushes = {
    shootdowns: s.shootdowns,
    ipis: s.ipisSent,
    ipisTo: [...s.ipisReceived],
    lazySkipped: s.lazySkipped,
    remoteFlushEvents: vmstat.vmEvent(VmEvent.NR_TLB_REMOTE_FLUSH) - ev0,
  };
  for (const f of folios) {
    yield* vm.removeMigrationPtes(f, f, false);
    locks.folioUnlock(f);
    folioPut(mem, f);
  }
  return out;
}

function* writeAll(m: Machine, mm: MmView, addr: number, base: number): KernelGen {
  for (let k = 0; k < N; k++) yield* m.vm.userWrite(mm, addr + k * PAGE, base + k);
}

function* readAll(m: Machine, mm: MmView, addr: number): KernelGen<number[]> {
  const out: number[] = [];
  for (let k = 0; k < N; k++) out.push(yield* m.vm.userRead(mm, addr + k * PAGE));
  return out;
}

const values = (base: number) => Array.from({ length: N }, (_, k) => base + k);

describe('mm_cpumask follows context switches (switch_mm_irqs_off)', () => {
  it('a process whose work moves from CPU 1 to CPU 2 is IPIed on CPU 2 only once CPU 1 runs another mm', () => {
    const m = machine({ cpuNodes: [0, 0, 0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const a = vm.createProcess('a');
    const b = vm.createProcess('b');
    const addrA = vm.mmap(a, { length: N * PAGE });
    const addrB = vm.mmap(b, { length: N * PAGE });
    const aOn1 = new Completion(rt, 'a ran on 1');
    const bOn1 = new Completion(rt, 'b ran on 1');
    const aOn2 = new Completion(rt, 'a ran on 2');
    let flushes: Flushes | null = null;
    rt.spawn('a/0', 1, function* (): KernelGen {
      yield* writeAll(m, a, addrA, 100);
      aOn1.complete();
    });
    rt.spawn('b/0', 1, function* (): KernelGen {
      yield* aOn1.wait();
      yield* writeAll(m, b, addrB, 200);
      bOn1.complete();
    });
    rt.spawn('a/1', 2, function* (): KernelGen {
      yield* bOn1.wait();
      expect(yield* readAll(m, a, addrA)).toEqual(values(100));
      aOn2.complete();
    });
    rt.spawn('flusher', 0, function* (): KernelGen {
      yield* aOn2.wait();
      // CPU 1 switched from a to b: it left a's mask.
      expect(vm.loadedMm(1)).toBe(b);
      expect(a.cpusInMask).toBe(1);
      expect(mutableMm(a).cpumask[1]).toBe(0);
      expect(b.cpusInMask).toBe(1);
      flushes = yield* unmapAndRestore(m, a, addrA, 0);
      expect(yield* readAll(m, a, addrA)).toEqual(values(100));
      yield* vm.exit(a);
      yield* vm.exit(b);
    });
    runAndCheck(m);
    // One shootdown per page, each to CPU 2 only (it was 2 IPIs a page while CPU 1 stayed
    // in the mask).
    expect(flushes).toMatchObject({ shootdowns: N, ipis: N, lazySkipped: 0 });
    expect(flushes!.ipisTo.slice(0, 3)).toEqual([0, 0, N]);
  });

  it('two processes sharing a CPU: only the one loaded there gets IPIs, and the other is not deferred', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const a = vm.createProcess('a');
    const b = vm.createProcess('b');
    const addrA = vm.mmap(a, { length: N * PAGE });
    const addrB = vm.mmap(b, { length: N * PAGE });
    const bDone = new Completion(rt, 'b wrote');
    const aAgain = new Completion(rt, 'a ran again');
    const flushed = new Completion(rt, 'flushed');
    const seen: { a: Flushes | null; b: Flushes | null; deferredB: number } = {
      a: null,
      b: null,
      deferredB: -1,
    };
    let switchFlushesBefore = -1;
    rt.spawn('a', 1, function* (): KernelGen {
      yield* writeAll(m, a, addrA, 100);
      yield* bDone.wait();
      expect(yield* readAll(m, a, addrA)).toEqual(values(100));
      aAgain.complete();
    });
    rt.spawn('b', 1, function* (): KernelGen {
      yield* writeAll(m, b, addrB, 200);
      bDone.complete();
      yield* flushed.wait();
      // Back on CPU 1 after flushes it missed: its old entries of b went at the switch,
      // the values come through the page tables again.
      expect(vm.tlbStats.switchFlushes).toBe(switchFlushesBefore + 1);
      const misses = vm.tlbStats.tlbMisses;
      expect(yield* readAll(m, b, addrB)).toEqual(values(200));
      expect(vm.tlbStats.tlbMisses).toBe(misses + N);
    });
    rt.spawn('flusher', 0, function* (): KernelGen {
      yield* aAgain.wait();
      expect(vm.loadedMm(1)).toBe(a);
      expect(a.cpusInMask).toBe(1);
      expect(b.cpusInMask).toBe(0);
      // b's entries stay cached on CPU 1 (a PCID of its own), but no flush of b reaches it.
      expect(mutableMm(b).tlb[1]?.size).toBe(N);
      seen.b = yield* unmapAndRestore(m, b, addrB, TTU_BATCH_FLUSH);
      seen.deferredB = vm.tlbStats.deferredFlushes;
      seen.a = yield* unmapAndRestore(m, a, addrA, TTU_BATCH_FLUSH);
      switchFlushesBefore = vm.tlbStats.switchFlushes;
      flushed.complete();
    });
    runAndCheck(m);
    // b: nothing else in its mask, so should_defer_flush says no and nothing is sent.
    expect(seen.b).toMatchObject({ shootdowns: 0, ipis: 0 });
    expect(seen.deferredB).toBe(0);
    // a: CPU 1 runs it, so the batch is deferred and flushed with one IPI.
    expect(seen.a).toMatchObject({ shootdowns: 1, ipis: 1, lazySkipped: 0 });
  });

  it('a lazy CPU gets no IPI; the round is still counted; the task coming back flushes its stale entries', () => {
    for (const flags of [0, TTU_BATCH_FLUSH]) {
      const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
      const { vm, rt } = m;
      const a = vm.createProcess('a');
      const addrA = vm.mmap(a, { length: N * PAGE });
      const touched = new Completion(rt, 'touched');
      const lazy = new Completion(rt, 'kthread ran');
      const flushed = new Completion(rt, 'flushed');
      let flushes: Flushes | null = null;
      let switchFlushesBefore = -1;
      rt.spawn('a', 1, function* (): KernelGen {
        yield* writeAll(m, a, addrA, 100);
        touched.complete();
        yield* flushed.wait();
        // Back from lazy mode after flushes that skipped CPU 1: its entries of a went.
        expect(vm.tlbStats.switchFlushes).toBe(switchFlushesBefore + 1);
        expect(vm.tlbIsLazy(1)).toBe(false);
        const misses = vm.tlbStats.tlbMisses;
        expect(yield* readAll(m, a, addrA)).toEqual(values(100));
        expect(vm.tlbStats.tlbMisses).toBe(misses + N);
      });
      rt.spawn('kworker', 1, function* (): KernelGen {
        yield* touched.wait();
        lazy.complete();
      });
      rt.spawn('flusher', 0, function* (): KernelGen {
        yield* lazy.wait();
        // enter_lazy_tlb: the kernel thread keeps a loaded, in its mask, lazily.
        expect(vm.loadedMm(1)).toBe(a);
        expect(vm.tlbIsLazy(1)).toBe(true);
        expect(a.cpusInMask).toBe(1);
        flushes = yield* unmapAndRestore(m, a, addrA, flags);
        // The lazy CPU stays in the mask, with its entries (stale now) until it switches.
        expect(a.cpusInMask).toBe(1);
        expect(mutableMm(a).tlb[1]?.size).toBe(N);
        switchFlushesBefore = vm.tlbStats.switchFlushes;
        flushed.complete();
      });
      runAndCheck(m);
      const rounds = flags === 0 ? N : 1;
      expect(flushes).toMatchObject({
        shootdowns: rounds,
        remoteFlushEvents: rounds,
        ipis: 0,
        lazySkipped: rounds,
      });
    }
  });

  it('a CPU still running the mm gets every IPI, also after switching between two threads of it', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const a = vm.createProcess('a');
    const addrA = vm.mmap(a, { length: N * PAGE });
    const touched = new Completion(rt, 'touched');
    const read = new Completion(rt, 'read');
    let flushes: Flushes | null = null;
    let hits = -1;
    rt.spawn('a/0', 1, function* (): KernelGen {
      yield* writeAll(m, a, addrA, 100);
      touched.complete();
    });
    rt.spawn('a/1', 1, function* (): KernelGen {
      yield* touched.wait();
      // Another thread of the same mm: no lazy mode, no flush, the TLB entries are used.
      const h = vm.tlbStats.tlbHits;
      expect(yield* readAll(m, a, addrA)).toEqual(values(100));
      hits = vm.tlbStats.tlbHits - h;
      read.complete();
    });
    rt.spawn('flusher', 0, function* (): KernelGen {
      yield* read.wait();
      expect(vm.tlbIsLazy(1)).toBe(false);
      flushes = yield* unmapAndRestore(m, a, addrA, 0);
    });
    runAndCheck(m);
    expect(hits).toBe(N);
    expect(vm.tlbStats.switchFlushes).toBe(0);
    expect(flushes).toMatchObject({ shootdowns: N, ipis: N, lazySkipped: 0 });
  });

  it('the loaded mm and lazy state of a CPU are read with a CPU number; a bad one is INVALID_ARGUMENT', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    expect(m.vm.loadedMm(0)).toBeNull();
    expect(m.vm.tlbIsLazy(1)).toBe(false);
    for (const bad of [-1, 2, 0.5, Number.NaN]) {
      expect(() => m.vm.loadedMm(bad)).toThrow(MmsimError);
      expect(() => m.vm.tlbIsLazy(bad)).toThrow(MmsimError);
    }
  });

  it('a runtime takes one context-switch hook', () => {
    const m = machine({ cpuNodes: [0], nodes: [4096] });
    expect(() => m.rt.setContextSwitchHook(m.vm.contextSwitch)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
  });
});
