import { folioNid, folioTestLarge, pfnFolio } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MR_NUMA_MISPLACED } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE, pteProtnone, pteWrite } from '@mmsim/rmap';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  allocMisplacedDstFolio,
  migrateMisplacedFolio,
  NUMA_BALANCING_MEMORY_TIERING,
  NumaBalancing,
} from '../src/index.js';

/**
 * NUMA balancing of PMD-mapped THPs (6.3): `change_huge_pmd` with MM_CP_PROT_NUMA,
 * `do_huge_pmd_numa_page` -> `migrate_misplaced_page` of the whole THP.
 */

const HPAGE_NR = 512;

/** node 0: CPU 0; node 1: CPU 1 (or none with `slowNode1`). */
function machine(slowNode1 = false): Kernel {
  return createKernel({
    nodes: [{ pages: 2048 }, slowNode1 ? { pages: 2048, cpus: 0 } : { pages: 2048 }],
    cpusPerNode: 1,
    variant: 'v6.3',
    zeroPage: false,
  });
}

function thp(k: Kernel): { mm: MmView; addr: number } {
  const mm = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: HPAGE_NR * PAGE_SIZE, hugepage: true });
  return { mm, addr };
}

function* writeThp(k: Kernel, mm: MmView, addr: number, base: number): KernelGen {
  for (let i = 0; i < HPAGE_NR; i += 64) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, base + i);
  yield* k.lru.lruAddDrainAll();
}

function* readThp(k: Kernel, mm: MmView, addr: number): KernelGen<number[]> {
  const out: number[] = [];
  for (let i = 0; i < HPAGE_NR; i += 64) out.push(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE));
  return out;
}

const expected = (base: number) => Array.from({ length: HPAGE_NR / 64 }, (_, j) => base + j * 64);

function pmdOf(k: Kernel, mm: MmView, addr: number): number {
  const view = k.vm.lookupPte(mm, addr);
  expect(view.level).toBe('pmd');
  return view.raw;
}

function folioAt(k: Kernel, mm: MmView, addr: number): number {
  return pfnFolio(k.mem, k.vm.followPage(mm, addr));
}

describe('NUMA balancing of PMD-mapped THPs (change_huge_pmd, do_huge_pmd_numa_page; 6.3)', () => {
  it('one hinting fault migrates the whole THP, unsplit, with MIGRATE_ASYNC and MR_NUMA_MISPLACED: numa_pages_migrated 512, pgmigrate_success 512', () => {
    const k = machine();
    const nb = new NumaBalancing(k, { scanDelayMs: 0 }).install();
    const { mm, addr } = thp(k);
    const starts: Array<{ mode: number; reason: number }> = [];
    k.rt.trace.on('mm_migrate_pages_start', (e) => {
      starts.push(e.fields as { mode: number; reason: number });
    });
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 100);
      expect(folioNid(k.mem, folioAt(k, mm, addr))).toBe(0);
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(HPAGE_NR);
      expect(pteProtnone(pmdOf(k, mm, addr))).toBe(true);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      expect(yield* readThp(k, mm, addr)).toEqual(expected(100));
    });
    k.run();
    const folio = folioAt(k, mm, addr);
    expect(folioNid(k.mem, folio)).toBe(1);
    expect(folioTestLarge(k.mem, folio)).toBe(true);
    expect(pteProtnone(pmdOf(k, mm, addr))).toBe(false);
    expect(starts).toEqual([{ mode: MIGRATE_ASYNC, reason: MR_NUMA_MISPLACED }]);
    const ev = (id: number) => k.vmstat.vmEvent(id);
    expect(ev(VmEvent.NUMA_PTE_UPDATES)).toBe(HPAGE_NR);
    expect(ev(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(1);
    expect(ev(VmEvent.NUMA_HINT_FAULTS)).toBe(1);
    expect(ev(VmEvent.NUMA_HINT_FAULTS_LOCAL)).toBe(0);
    expect(ev(VmEvent.NUMA_PAGES_MIGRATED)).toBe(HPAGE_NR);
    expect(ev(VmEvent.PGMIGRATE_SUCCESS)).toBe(HPAGE_NR);
    expect(ev(VmEvent.THP_MIGRATION_SUCCESS)).toBe(1);
    expect(ev(VmEvent.THP_MIGRATION_FAIL)).toBe(0);
    expect(ev(VmEvent.THP_SPLIT_PAGE)).toBe(0);
    expect(nb.stats).toMatchObject({ hintFaults: 1, local: 0, misplaced: 1, migrated: 1 });
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });

  it('a hinting fault on a THP already on the CPU node counts numa_hint_faults_local and restores the PMD', () => {
    const k = machine();
    const nb = new NumaBalancing(k, { scanDelayMs: 0 }).install();
    const { mm, addr } = thp(k);
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 7);
      yield* nb.taskNumaWorkPass(mm);
      expect(yield* readThp(k, mm, addr)).toEqual(expected(7));
    });
    k.run();
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS_LOCAL)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(0);
    expect(pteProtnone(pmdOf(k, mm, addr))).toBe(false);
    expect(folioNid(k.mem, folioAt(k, mm, addr))).toBe(0);
  });

  it('a THP mapped by two processes is not migrated (numamigrate_isolate_page) and the PMD is restored read-only', () => {
    const k = machine();
    const nb = new NumaBalancing(k, { scanDelayMs: 0 }).install();
    const { mm, addr } = thp(k);
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 9);
      yield* k.vm.fork(mm, 'child'); // copy_huge_pmd: the child maps the THP too
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(HPAGE_NR);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      expect(yield* readThp(k, mm, addr)).toEqual(expected(9));
    });
    k.run();
    expect(nb.stats.refused.sharedThp).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(0);
    const pmd = pmdOf(k, mm, addr);
    expect(pteProtnone(pmd)).toBe(false);
    expect(pteWrite(pmd)).toBe(false);
    expect(folioNid(k.mem, folioAt(k, mm, addr))).toBe(0);
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });

  it('a THP migration that fails (a FOLL_PIN pin) counts thp_migration_fail and pgmigrate_fail 512, never splits, and restores the PMD', () => {
    const k = machine();
    const nb = new NumaBalancing(k, { scanDelayMs: 0 }).install();
    const { mm, addr } = thp(k);
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 11);
      expect(yield* k.vm.pinUserPage(mm, addr, true)).toBeGreaterThanOrEqual(0);
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(HPAGE_NR);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      expect(yield* readThp(k, mm, addr)).toEqual(expected(11));
      yield* k.vm.userWrite(mm, addr + 3 * PAGE_SIZE, 77);
      expect(yield* k.vm.userRead(mm, addr + 3 * PAGE_SIZE)).toBe(77);
    });
    k.run();
    expect(nb.stats.failed).toBe(1);
    expect(nb.stats.migrated).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.THP_MIGRATION_FAIL)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_FAIL)).toBe(HPAGE_NR);
    expect(k.vmstat.vmEvent(VmEvent.THP_MIGRATION_SPLIT)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.THP_SPLIT_PAGE)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_PAGES_MIGRATED)).toBe(0);
    expect(pteProtnone(pmdOf(k, mm, addr))).toBe(false);
    const folio = folioAt(k, mm, addr);
    expect(folioTestLarge(k.mem, folio)).toBe(true);
    expect(folioNid(k.mem, folio)).toBe(0);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
  });

  it('memory-tiering mode alone does not mark a THP on a top-tier node', () => {
    const k = machine();
    const nb = new NumaBalancing(k, {
      mode: NUMA_BALANCING_MEMORY_TIERING,
      scanDelayMs: 0,
    }).install();
    const { mm, addr } = thp(k);
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 1);
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(0);
    });
    k.run();
    expect(pteProtnone(pmdOf(k, mm, addr))).toBe(false);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES)).toBe(0);
  });

  /** A THP moved to CPU-less node 1 (slow tier), then scanned in mode 2 and read from CPU 0. */
  function promoteThp(promoteRateLimitMBps: number) {
    const k = machine(true);
    const nb = new NumaBalancing(k, {
      mode: NUMA_BALANCING_MEMORY_TIERING,
      scanDelayMs: 0,
      promoteRateLimitMBps,
    }).install();
    const { mm, addr } = thp(k);
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* writeThp(k, mm, addr, 3);
      const moved = yield* migrateMisplacedFolio(
        k,
        folioAt(k, mm, addr),
        1,
        allocMisplacedDstFolio(k),
      );
      expect(moved).toBe(HPAGE_NR);
      yield* k.lru.lruAddDrainAll();
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(HPAGE_NR);
      expect(yield* readThp(k, mm, addr)).toEqual(expected(3));
    });
    k.run();
    return { k, nb, nid: folioNid(k.mem, folioAt(k, mm, addr)) };
  }

  it('mode 2 promotes a hot slow-tier THP in one fault: pgpromote_candidate and pgpromote_success 512', () => {
    const { k, nb, nid } = promoteThp(65536);
    expect(nid).toBe(0);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_CANDIDATE)).toBe(HPAGE_NR);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_SUCCESS)).toBe(HPAGE_NR);
    expect(nb.stats.rateLimited).toBe(0);
  });

  it('the promotion rate limit counts a THP as its 512 pages (numa_promotion_rate_limit)', () => {
    // 1 MB/s = 256 pages a second: one THP candidate is over the limit
    const { k, nb, nid } = promoteThp(1);
    expect(nid).toBe(1);
    expect(nb.stats.rateLimited).toBe(1);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_CANDIDATE)).toBe(HPAGE_NR);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_SUCCESS)).toBe(0);
  });
});
