import { Completion, type KernelGen, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type MmView,
  type NumaHugeHintFaultHook,
  PMD_SIZE,
  pteProtnone,
  pteWrite,
  pteYoung,
} from '../src/index.js';
import { mutableMm, pmdIndexOf } from '../src/internal.js';
import {
  type RmapMachine as Machine,
  createRmapMachine as machine,
  runAndCheck,
} from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

/**
 * NUMA hinting on PMD-mapped THPs (mm/huge_memory.c `change_huge_pmd` with MM_CP_PROT_NUMA
 * and `do_huge_pmd_numa_page`, mm/mprotect.c `change_pmd_range`, 6.3).
 */

const PAGE = 4096;
const HPAGE_NR = 512;

function rawPmd(mm: MmView, addr: number): number | undefined {
  return mutableMm(mm).pmds.get(pmdIndexOf(addr));
}

/** A process with one THP written on CPU 1 (node 0 everywhere: cpuNodes [0, 0]). */
function thpProcess(m: Machine): { mm: MmView; addr: number } {
  const mm = m.vm.createProcess('app');
  const addr = m.vm.mmap(mm, { length: PMD_SIZE, hugepage: true });
  return { mm, addr };
}

function* writeSome(m: Machine, mm: MmView, addr: number, base: number): KernelGen {
  for (let i = 0; i < HPAGE_NR; i += 128) yield* m.vm.userWrite(mm, addr + i * PAGE, base + i);
}

function* readSome(m: Machine, mm: MmView, addr: number): KernelGen<number[]> {
  const out: number[] = [];
  for (let i = 0; i < HPAGE_NR; i += 128) out.push(yield* m.vm.userRead(mm, addr + i * PAGE));
  return out;
}

const expected = (base: number) => [0, 128, 256, 384].map((i) => base + i);

describe('NUMA hinting on PMD-mapped THPs (6.3)', () => {
  it('change_huge_pmd makes the whole PMD PROT_NONE: numa_pte_updates += 512, numa_huge_pte_updates += 1, the PMD flushed', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const { mm, addr } = thpProcess(m);
    const written = new Completion(rt, 'written');
    const marked = new Completion(rt, 'marked');
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeSome(m, mm, addr, 10);
      written.complete();
      yield* marked.wait(); // CPU 1 keeps its TLB entries of the THP until the flush
    });
    rt.spawn('numa', 0, function* (): KernelGen {
      yield* written.wait();
      expect(mutableMm(mm).tlb[1]?.size).toBeGreaterThan(0);
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE)).toBe(HPAGE_NR);
      expect(pteProtnone(rawPmd(mm, addr)!)).toBe(true);
      expect(pteWrite(rawPmd(mm, addr)!)).toBe(false);
      expect(vm.lookupPte(mm, addr).level).toBe('pmd'); // not split
      expect(mutableMm(mm).tlb[1]?.size ?? 0).toBe(0); // tlb_finish_mmu flushed it
      expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(HPAGE_NR);
      expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(1);
      // Already PROT_NONE: skipped, nothing counted.
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE)).toBe(0);
      expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(HPAGE_NR);
      expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(1);
      marked.complete();
    });
    runAndCheck(m);
  });

  it('a load from a PROT_NONE PMD takes one NUMA hinting fault (do_huge_pmd_numa_page), which restores the PMD young and writable', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const { mm, addr } = thpProcess(m);
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeSome(m, mm, addr, 20);
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE)).toBe(HPAGE_NR);
      const faults = vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS);
      const pgfaults = vmstat.vmEvent(VmEvent.PGFAULT);
      expect(yield* readSome(m, mm, addr)).toEqual(expected(20));
      // One hinting fault for the whole THP, not one per page.
      expect(vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(faults + 1);
      expect(vmstat.vmEvent(VmEvent.PGFAULT)).toBe(pgfaults + 1);
      const pmd = rawPmd(mm, addr)!;
      expect(pteProtnone(pmd)).toBe(false);
      expect(pteYoung(pmd)).toBe(true);
      // can_change_pmd_writable: an exclusive anonymous THP gets its write bit back at once.
      expect(pteWrite(pmd)).toBe(true);
      const wpFaults = vmstat.vmEvent(VmEvent.PGFAULT);
      yield* writeSome(m, mm, addr, 30);
      expect(vmstat.vmEvent(VmEvent.PGFAULT)).toBe(wpFaults);
      expect(yield* readSome(m, mm, addr)).toEqual(expected(30));
    });
    runAndCheck(m);
  });

  it('a store to a PROT_NONE PMD takes the hinting fault, not a segfault, and lands', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const { mm, addr } = thpProcess(m);
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeSome(m, mm, addr, 40);
      yield* vm.changeProtNuma(mm, addr, PMD_SIZE);
      yield* vm.userWrite(mm, addr + 5 * PAGE, 99);
      expect(vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(1);
      expect(yield* vm.userRead(mm, addr + 5 * PAGE)).toBe(99);
      expect(yield* readSome(m, mm, addr)).toEqual(expected(40));
    });
    runAndCheck(m);
  });

  it('memory-tiering mode alone skips a PMD whose folio is on a top-tier node, and marks one on a slow node', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const { mm, addr } = thpProcess(m);
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeSome(m, mm, addr, 1);
      const toptier = { mode: 2, isToptier: (nid: number) => nid === 0 };
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE, toptier)).toBe(0);
      expect(pteProtnone(rawPmd(mm, addr)!)).toBe(false);
      expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(0);
      // NUMA_BALANCING_NORMAL set too (mode 3): the top tier is scanned.
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE, { ...toptier, mode: 3 })).toBe(HPAGE_NR);
      yield* readSome(m, mm, addr);
      // mode 2, the folio on a slow-tier node: marked.
      const slow = { mode: 2, isToptier: () => false };
      expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE, slow)).toBe(HPAGE_NR);
      expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(2);
      expect(yield* readSome(m, mm, addr)).toEqual(expected(1));
    });
    runAndCheck(m);
  });

  it('a range covering part of a huge PMD splits it first (change_pmd_range); its PTEs, sharing one folio reference count, are then not hinted in 6.3', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt, vmstat } = m;
    const { mm, addr } = thpProcess(m);
    rt.spawn('app', 1, function* (): KernelGen {
      yield* writeSome(m, mm, addr, 3);
      // change_pte_range 6.3: `is_cow_mapping && page_count(page) != 1` skips every
      // subpage of a PTE-mapped THP (the folio has one reference per PTE).
      expect(yield* vm.changeProtNuma(mm, addr, 8 * PAGE)).toBe(0);
      expect(vm.lookupPte(mm, addr).level).toBe('pte');
      expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(0);
      expect(vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(0);
      expect(yield* readSome(m, mm, addr)).toEqual(expected(3));
      expect(vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(0);
    });
    runAndCheck(m);
  });

  it('numa_migrate_prep with no target restores the PMD under the same lock; a failed migration restores it without write', () => {
    for (const outcome of ['no-target', 'failed'] as const) {
      const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
      const { vm, rt } = m;
      const { mm, addr } = thpProcess(m);
      const calls: string[] = [];
      let seenDuringMigrate: number | undefined;
      const hook: NumaHugeHintFaultHook = {
        prep: (_mm, _address, folio) => {
          calls.push(`prep ${folio === vm.lookupPte(mm, addr).pfn}`);
          return outcome === 'no-target' ? -1 : 1;
        },
        *migrate(_mm, _address, _folio, nid) {
          calls.push(`migrate ${nid}`);
          seenDuringMigrate = rawPmd(mm, addr);
          yield;
          return false;
        },
      };
      vm.setNumaHugeHintFaultHook(hook);
      rt.spawn('app', 1, function* (): KernelGen {
        yield* writeSome(m, mm, addr, 5);
        yield* vm.changeProtNuma(mm, addr, PMD_SIZE);
        expect(yield* readSome(m, mm, addr)).toEqual(expected(5));
      });
      runAndCheck(m);
      const pmd = rawPmd(mm, addr)!;
      expect(pteProtnone(pmd)).toBe(false);
      expect(pteYoung(pmd)).toBe(true);
      if (outcome === 'no-target') {
        expect(calls).toEqual(['prep true']);
        expect(pteWrite(pmd)).toBe(true);
      } else {
        expect(calls).toEqual(['prep true', 'migrate 1']);
        // the PMD stays PROT_NONE while migrate_misplaced_page runs
        expect(pteProtnone(seenDuringMigrate!)).toBe(true);
        // 6.3 drops `writable` once the lock was dropped: read-only until a write fault
        expect(pteWrite(pmd)).toBe(false);
      }
    }
  });

  it('change_prot_numa makes a writable PMD migration entry readable (change_huge_pmd), so the new THP comes back read-only', () => {
    for (const scan of [false, true]) {
      const m = machine({ cpuNodes: [0, 0], nodes: [4096, 4096] });
      const { vm, rt, vmstat } = m;
      const { mm, addr } = thpProcess(m);
      rt.spawn('app', 1, function* (): KernelGen {
        yield* writeSome(m, mm, addr, 8);
        expect(pteWrite(rawPmd(mm, addr)!)).toBe(true);
        const dst = yield* migrateFolio(m, vm.lookupPte(mm, addr).pfn, {
          node: 1,
          *pause() {
            if (!scan) return;
            // the PMD is a writable migration entry: nothing to hint, nothing counted
            expect(yield* vm.changeProtNuma(mm, addr, PMD_SIZE)).toBe(0);
          },
        });
        expect(dst).toBeGreaterThanOrEqual(0);
        const pmd = rawPmd(mm, addr)!;
        expect(pteProtnone(pmd)).toBe(false);
        expect(pteWrite(pmd)).toBe(!scan);
        expect(vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(0);
        yield* writeSome(m, mm, addr, 60); // a read-only exclusive THP is reused on write
        expect(yield* readSome(m, mm, addr)).toEqual(expected(60));
      });
      runAndCheck(m);
    }
  });

  it('rejects a numa_balancing mode change_prot_numa cannot run under with a typed error', () => {
    const m = machine({ cpuNodes: [0, 0], nodes: [4096] });
    const { vm, rt } = m;
    const { mm, addr } = thpProcess(m);
    const errors: unknown[] = [];
    rt.spawn('app', 1, function* (): KernelGen {
      for (const mode of [0, 4, 1.5]) {
        try {
          yield* vm.changeProtNuma(mm, addr, PMD_SIZE, { mode });
        } catch (e) {
          errors.push(e);
        }
      }
    });
    runAndCheck(m);
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(e).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
