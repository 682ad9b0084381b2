import { type Folio, folioGet, folioPut } from '@mmsim/folio';
import { Completion, type KernelGen, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  isWritableMigrationEntry,
  type MmView,
  pteMkProtnone,
  pteProtnone,
  pteWrite,
  TTU_BATCH_FLUSH,
} from '../src/index.js';
import { mutableMm, pmdIndexOf, vpnOf } from '../src/internal.js';
import {
  type RmapMachine as Machine,
  createRmapMachine as machine,
  runAndCheck,
} from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

/**
 * PROT_NONE NUMA hinting entries (`change_prot_numa`, mm/mempolicy.c, 6.3), `pte_accessible`
 * with `mm->tlb_flush_pending`, and what 4d4b6d66db63 "mm,unmap: avoid flushing TLB in batch
 * if PTE is inaccessible" (6.4) changes in `try_to_migrate` with TTU_BATCH_FLUSH.
 */

const N = 8;
const PAGE = 4096;

function* writeAll(m: Machine, mm: MmView, addr: number, base: number): KernelGen {
  for (let k = 0; k < N; k++) yield* m.vm.userWrite(mm, addr + k * PAGE, base + k);
}

function* readAll(m: Machine, mm: MmView, addr: number): KernelGen<number[]> {
  const out: number[] = [];
  for (let k = 0; k < N; k++) out.push(yield* m.vm.userRead(mm, addr + k * PAGE));
  return out;
}

const values = (base: number) => Array.from({ length: N }, (_, k) => base + k);

function rawPte(mm: MmView, addr: number): number {
  return mutableMm(mm).pageTables.get(pmdIndexOf(addr))!.get(vpnOf(addr));
}

interface Counts {
  deferred: number;
  skipped: number;
  batchFlushes: number;
  shootdowns: number;
  ipis: number;
}

/**
 * A process writes N pages on CPU 1 and stays there (in mm_cpumask); CPU 0 makes them
 * PROT_NONE with `change_prot_numa`, then unmaps them with `try_to_migrate(flags)`, one
 * `try_to_unmap_flush`, and puts the mappings back. The process then reads its values
 * again. Returns the flush counts of the unmap.
 */
function unmapProtNone(skipInaccessible: boolean, flags: number): Counts {
  const m = machine({
    cpuNodes: [0, 0],
    nodes: [4096],
    tlbBatchSkipsInaccessible: skipInaccessible,
  });
  const { vm, rt, mem, locks, vmstat } = m;
  const mm = vm.createProcess('app');
  const addr = vm.mmap(mm, { length: N * PAGE });
  const written = new Completion(rt, 'written');
  const unmapped = new Completion(rt, 'unmapped');
  let counts: Counts | null = null;
  rt.spawn('app', 1, function* (): KernelGen {
    yield* writeAll(m, mm, addr, 100);
    written.complete();
    yield* unmapped.wait();
    expect(yield* readAll(m, mm, addr)).toEqual(values(100));
  });
  rt.spawn('numa', 0, function* (): KernelGen {
    yield* written.wait();
    expect(yield* vm.changeProtNuma(mm, addr, N * PAGE)).toBe(N);
    expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(N);
    for (let k = 0; k < N; k++) expect(pteProtnone(rawPte(mm, addr + k * PAGE))).toBe(true);
    expect(vm.tlbFlushPending(mm)).toBe(0);
    const folios: Folio[] = [];
    for (let k = 0; k < N; k++) folios.push(vm.followPage(mm, addr + k * PAGE));
    vm.tlbStats.reset();
    for (const f of folios) {
      folioGet(mem, f);
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, flags);
    }
    vm.tryToUnmapFlush();
    const s = vm.tlbStats;
    counts = {
      deferred: s.deferredFlushes,
      skipped: s.inaccessibleSkipped,
      batchFlushes: s.batchFlushes,
      shootdowns: s.shootdowns,
      ipis: s.ipisSent,
    };
    for (const f of folios) {
      yield* vm.removeMigrationPtes(f, f, false);
      locks.folioUnlock(f);
      folioPut(mem, f);
    }
    unmapped.complete();
  });
  runAndCheck(m);
  return counts!;
}

describe('PROT_NONE NUMA hinting entries', () => {
  it('change_prot_numa makes the PTEs PROT_NONE and flushes them; each access then takes a NUMA hinting fault', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const mm = vm.createProcess('app');
    const addr = vm.mmap(mm, { length: N * PAGE });
    const written = new Completion(rt, 'written');
    const hinted = new Completion(rt, 'hinted');
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeAll(m, mm, addr, 7);
      written.complete();
      yield* hinted.wait();
      const faults = vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS);
      expect(yield* readAll(m, mm, addr)).toEqual(values(7));
      expect(vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(faults + N);
      for (let k = 0; k < N; k++) expect(pteProtnone(rawPte(mm, addr + k * PAGE))).toBe(false);
      // Exclusive anonymous pages come back writable (can_change_pte_writable): no
      // write-protect fault follows.
      yield* writeAll(m, mm, addr, 50);
      expect(yield* readAll(m, mm, addr)).toEqual(values(50));
    });
    rt.spawn('numa', 0, function* (): KernelGen {
      yield* written.wait();
      const shootdowns = vm.tlbStats.shootdowns;
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE)).toBe(N);
      // One flush of the range for the whole change (tlb_finish_mmu), to CPU 1.
      expect(vm.tlbStats.shootdowns).toBe(shootdowns + 1);
      // A second pass changes nothing: the entries are PROT_NONE already.
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE)).toBe(0);
      hinted.complete();
    });
    runAndCheck(m);
  });

  it('the stale-TLB check accepts a cached PROT_NONE entry while its flush is pending, and reports it once nothing is pending', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const mm = vm.createProcess('app');
    const addr = vm.mmap(mm, { length: N * PAGE });
    const written = new Completion(rt, 'written');
    const checked = new Completion(rt, 'checked');
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeAll(m, mm, addr, 1);
      written.complete();
      yield* checked.wait(); // CPU 1 keeps the mm loaded, its entries cached
    });
    rt.spawn('checker', 0, function* (): KernelGen {
      yield* written.wait();
      expect(mutableMm(mm).tlb[1]?.size).toBe(N);
      // What change_pte_range does before tlb_finish_mmu's flush: PROT_NONE, flush pending.
      const table = mutableMm(mm).pageTables.get(pmdIndexOf(addr))!;
      const raw = table.get(vpnOf(addr));
      mutableMm(mm).tlbFlushPending = 1;
      table.set(vpnOf(addr), pteMkProtnone(raw));
      expect(vm.check({ quiescent: true })).toEqual([]);
      // The same entry with no flush pending: CPU 1 still reaches the page, a missing flush.
      mutableMm(mm).tlbFlushPending = 0;
      const problems = vm.check({ quiescent: true });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/CPU 1 caches .* protnone \(a missing TLB flush\)/);
      table.set(vpnOf(addr), raw);
      checked.complete();
    });
    runAndCheck(m);
  });

  it('a PROT_NONE entry is not pte_accessible once flushed: 6.3 still batches its flush and sends the IPI, 6.4 (4d4b6d66db63) records nothing', () => {
    const v63 = unmapProtNone(false, TTU_BATCH_FLUSH);
    expect(v63).toEqual({ deferred: N, skipped: 0, batchFlushes: 1, shootdowns: 1, ipis: 1 });
    const v64 = unmapProtNone(true, TTU_BATCH_FLUSH);
    expect(v64).toEqual({ deferred: 0, skipped: N, batchFlushes: 0, shootdowns: 0, ipis: 0 });
  });

  it('without TTU_BATCH_FLUSH, ptep_clear_flush flushes only an accessible entry, in 6.3 and 6.4 alike', () => {
    for (const skip of [false, true]) {
      expect(unmapProtNone(skip, 0)).toEqual({
        deferred: 0,
        skipped: 0,
        batchFlushes: 0,
        shootdowns: 0,
        ipis: 0,
      });
    }
  });

  it('memory-tiering mode alone leaves the PTEs of a top-tier folio unmarked and marks those of a slow-tier folio (change_pte_range)', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const mm = vm.createProcess('app');
    const addr = vm.mmap(mm, { length: N * PAGE });
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeAll(m, mm, addr, 3);
      const toptier = { mode: 2, isToptier: (nid: number) => nid === 0 };
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE, toptier)).toBe(0);
      for (let k = 0; k < N; k++) expect(pteProtnone(rawPte(mm, addr + k * PAGE))).toBe(false);
      expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(0);
      // NUMA_BALANCING_NORMAL too (mode 3): the top tier is scanned.
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE, { ...toptier, mode: 3 })).toBe(N);
      expect(yield* readAll(m, mm, addr)).toEqual(values(3));
      // mode 2, the folios on a slow-tier node: marked.
      const slow = { mode: 2, isToptier: () => false };
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE, slow)).toBe(N);
      for (let k = 0; k < N; k++) expect(pteProtnone(rawPte(mm, addr + k * PAGE))).toBe(true);
      expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(2 * N);
      expect(yield* readAll(m, mm, addr)).toEqual(values(3));
    });
    runAndCheck(m);
  });

  it('change_prot_numa makes a writable PTE migration entry readable and counts it in numa_pte_updates, so the new page comes back read-only', () => {
    for (const scan of [false, true]) {
      const m = machine({ cpuNodes: [0, 0], nodes: [4096, 4096] });
      const { vm, rt, vmstat } = m;
      const mm = vm.createProcess('app');
      const addr = vm.mmap(mm, { length: PAGE });
      rt.spawn('app', 1, function* (): KernelGen {
        yield* m.vm.userWrite(mm, addr, 11);
        expect(pteWrite(rawPte(mm, addr))).toBe(true);
        const dst = yield* migrateFolio(m, vm.lookupPte(mm, addr).pfn, {
          node: 1,
          *pause() {
            expect(isWritableMigrationEntry(rawPte(mm, addr))).toBe(true);
            if (!scan) return;
            expect(yield* vm.changeProtNuma(mm, addr, PAGE)).toBe(1);
            expect(isWritableMigrationEntry(rawPte(mm, addr))).toBe(false);
          },
        });
        expect(dst).toBeGreaterThanOrEqual(0);
        const pte = rawPte(mm, addr);
        expect(pteProtnone(pte)).toBe(false);
        expect(pteWrite(pte)).toBe(!scan);
        expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(scan ? 1 : 0);
        yield* m.vm.userWrite(mm, addr, 12); // read-only exclusive: reused on write
        expect(yield* m.vm.userRead(mm, addr)).toBe(12);
      });
      runAndCheck(m);
    }
  });

  it('do_numa_page restores an exclusive anonymous PTE writable (can_change_pte_writable) and one of a read-only VMA read-only', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const mm = vm.createProcess('app');
    const addr = vm.mmap(mm, { length: N * PAGE });
    const half = (N / 2) * PAGE;
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeAll(m, mm, addr, 5);
      expect(yield* vm.mprotect(mm, addr + half, half, 0x1)).toBe(0); // PROT_READ
      expect(yield* vm.changeProtNuma(mm, addr, N * PAGE)).toBe(N);
      expect(yield* readAll(m, mm, addr)).toEqual(values(5));
      for (let k = 0; k < N; k++) {
        const pte = rawPte(mm, addr + k * PAGE);
        expect(pteProtnone(pte)).toBe(false);
        expect(pteWrite(pte)).toBe(k < N / 2);
      }
    });
    runAndCheck(m);
  });
});
