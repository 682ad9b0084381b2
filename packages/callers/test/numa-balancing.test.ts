import { folioNid, folioTestLarge, nodeStats, pfnFolio } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MR_NUMA_MISPLACED } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  allocMisplacedDstFolio,
  migrateMisplacedFolio,
  NUMA_BALANCING_MEMORY_TIERING,
  NumaBalancing,
  nodeIsToptier,
  taskNumaWork,
} from '../src/index.js';

/** node 0: CPU 0; node 1: CPU 1. */
function machine(nodes = [{ pages: 512 }, { pages: 512 }]): Kernel {
  return createKernel({ nodes, cpusPerNode: 1, variant: 'v6.3', zeroPage: false });
}

function nidAt(k: Kernel, mm: Parameters<Kernel['vm']['followPage']>[0], addr: number): number {
  return folioNid(k.mem, pfnFolio(k.mem, k.vm.followPage(mm, addr)));
}

describe('NUMA balancing (task_numa_work, do_numa_page, migrate_misplaced_page; 6.3)', () => {
  it('migrates a page touched from the other node with MIGRATE_ASYNC, MR_NUMA_MISPLACED and counts it', () => {
    const k = machine();
    const nb = new NumaBalancing(k, { scanDelayMs: 0 }).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    let ready = false;
    const starts: Array<{ mode: number; reason: number }> = [];
    k.rt.trace.on('mm_migrate_pages_start', (e) => {
      starts.push(e.fields as { mode: number; reason: number });
    });
    k.rt.spawn('setup', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 10 + i);
      yield* k.lru.lruAddDrainAll();
      expect(nidAt(k, mm, addr)).toBe(0);
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(4);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      expect(k.vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(4);
      expect(yield* k.vm.userRead(mm, addr)).toBe(10); // hint fault from node 1
      expect(yield* k.vm.userRead(mm, addr)).toBe(10);
    });
    k.run();
    expect(nidAt(k, mm, addr)).toBe(1);
    expect(nidAt(k, mm, addr + PAGE_SIZE)).toBe(0);
    expect(starts).toEqual([{ mode: MIGRATE_ASYNC, reason: MR_NUMA_MISPLACED }]);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS_LOCAL)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_PAGES_MIGRATED)).toBe(1);
    // both nodes have CPUs: no promotion
    expect(k.vmstat.nodePageState(1, NodeStat.PGPROMOTE_SUCCESS)).toBe(0);
    expect(nb.stats).toMatchObject({ hintFaults: 1, local: 0, misplaced: 1, migrated: 1 });
  });

  it('counts a hint fault on a page already on the CPU node as local and leaves it', () => {
    const k = machine();
    const nb = new NumaBalancing(k).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 7);
      yield* k.lru.lruAddDrainAll();
      yield* nb.taskNumaWorkPass(mm);
      expect(yield* k.vm.userRead(mm, addr)).toBe(7);
    });
    k.run();
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS_LOCAL)).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(0);
    expect(nidAt(k, mm, addr)).toBe(0);
  });

  it('leaves a PTE-mapped large folio where it is, unsplit (6.3 do_numa_page)', () => {
    const k = machine([{ pages: 2048 }, { pages: 2048 }]);
    const nb = new NumaBalancing(k).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 512 * PAGE_SIZE, hugepage: true });
    let folio = -1;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.lru.lruAddDrainAll();
      folio = pfnFolio(k.mem, k.vm.followPage(mm, addr));
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (folio < 0) yield;
      // The PTE-path hook called directly for a large folio (what do_numa_page would do for
      // a PTE-mapped THP): it must refuse without isolating or splitting.
      yield* nb.hintFault(mm, addr, k.vm.followPage(mm, addr));
    });
    k.run();
    expect(folioTestLarge(k.mem, folio)).toBe(true);
    expect(nb.stats.refused.compound).toBe(1);
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(0);
    expect(k.vmstat.vmEvent(VmEvent.THP_SPLIT_PAGE)).toBe(0);
    expect(pfnFolio(k.mem, k.vm.followPage(mm, addr))).toBe(folio);
  });

  it('refuses when the target node has no room (migrate_balanced_pgdat)', () => {
    const k = machine([{ pages: 512 }, { pages: 512 }]);
    const nb = new NumaBalancing(k).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    const hog = k.createProcess('hog');
    const free1 = nodeStats(k.mem, 1).freePages;
    const h = k.vm.mmap(hog, { length: free1 * PAGE_SIZE });
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 3);
      yield* k.lru.lruAddDrainAll();
      yield* nb.taskNumaWorkPass(mm);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      // fill node 1 (the hog's pages do not need hinting)
      for (let i = 0; i < free1 && nodeStats(k.mem, 1).freePages > 0; i++)
        yield* k.vm.userWrite(hog, h + i * PAGE_SIZE, 1);
      expect(yield* k.vm.userRead(mm, addr)).toBe(3);
    });
    k.run();
    expect(nb.stats.refused.targetFull).toBe(1);
    expect(nidAt(k, mm, addr)).toBe(0);
  });

  it('do_numa_page restores an exclusive anonymous page writable when no target was found, read-only once migrate_misplaced_page was called and failed (6a56ccbcf6c6)', () => {
    const k = machine([{ pages: 512 }, { pages: 512 }]);
    const nb = new NumaBalancing(k).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const hog = k.createProcess('hog');
    const free1 = nodeStats(k.mem, 1).freePages;
    const h = k.vm.mmap(hog, { length: free1 * PAGE_SIZE });
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 3);
      yield* k.vm.userWrite(mm, addr + PAGE_SIZE, 4);
      yield* k.lru.lruAddDrainAll();
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(2);
      // a local fault: numa_migrate_prep finds no target, out_map under the same lock
      expect(yield* k.vm.userRead(mm, addr)).toBe(3);
      ready = true;
    });
    k.rt.spawn('remote', 1, function* (): KernelGen {
      while (!ready) yield;
      for (let i = 0; i < free1 && nodeStats(k.mem, 1).freePages > 0; i++)
        yield* k.vm.userWrite(hog, h + i * PAGE_SIZE, 1);
      // misplaced, migrate_misplaced_page refuses (node 1 full): writable forgotten
      expect(yield* k.vm.userRead(mm, addr + PAGE_SIZE)).toBe(4);
    });
    k.run();
    expect(nb.stats.local).toBe(1);
    expect(nb.stats.refused.targetFull).toBe(1);
    expect(k.vm.lookupPte(mm, addr)).toMatchObject({ kind: 'present', write: true });
    expect(k.vm.lookupPte(mm, addr + PAGE_SIZE)).toMatchObject({ kind: 'present', write: false });
  });

  it('task_numa_work marks scan_size_mb per pass and wraps around', () => {
    const k = machine([{ pages: 2048 }, { pages: 2048 }]);
    const nb = new NumaBalancing(k, { scanSizeMb: 1, scanDelayMs: 0 });
    const mm = k.createProcess('p');
    const pages = 300; // 1 MB = 256 pages
    const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
    k.rt.spawn('setup', 0, function* (): KernelGen {
      for (let i = 0; i < pages; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 1);
    });
    k.spawn(taskNumaWork(nb, { cpu: 1, mm, passes: 3 }));
    k.run();
    // pass 1: 256, pass 2: the last 44, pass 3: from the start again, all already PROT_NONE
    expect(k.vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(300);
    expect(nb.stats.scans).toBe(3);
  });

  it('rejects bad sysctls and an unknown mode with a typed error', () => {
    const k = machine();
    expect(() => new NumaBalancing(k, { scanSizeMb: 0 })).toThrow(MmsimError);
    expect(() => new NumaBalancing(k, { mode: 4 })).toThrow(MmsimError);
    expect(() => new NumaBalancing(k, { hotThresholdMs: -1 })).toThrow(MmsimError);
    expect(new NumaBalancing(k, { mode: NUMA_BALANCING_MEMORY_TIERING }).sysctls.mode).toBe(2);
  });

  /** Node 0 with a CPU (fast), node 1 CPU-less (slow); the pages moved to node 1 first. */
  function tiered(sysctls: Partial<NumaBalancing['sysctls']>, pages: number, gapMs: number) {
    const k = createKernel({
      nodes: [{ pages: 1024 }, { pages: 1024, cpus: 0 }],
      cpusPerNode: 1,
      variant: 'v6.3',
      zeroPage: false,
    });
    const nb = new NumaBalancing(k, { mode: NUMA_BALANCING_MEMORY_TIERING, ...sysctls }).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < pages; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 5 + i);
      yield* k.lru.lruAddDrainAll();
      for (let i = 0; i < pages; i++) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        yield* migrateMisplacedFolio(k, pfnFolio(k.mem, pfn), 1, allocMisplacedDstFolio(k));
      }
      yield* k.lru.lruAddDrainAll();
      yield* nb.taskNumaWorkPass(mm);
      k.rt.charge(gapMs * 1_000_000);
      for (let i = 0; i < pages; i++) {
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(5 + i);
      }
    });
    k.run();
    const onNode = (nid: number) =>
      Array.from({ length: pages }, (_, i) => nidAt(k, mm, addr + i * PAGE_SIZE)).filter(
        (n) => n === nid,
      ).length;
    return { k, nb, onNode };
  }

  it('mode 2 promotes a hot slow-tier page to the CPU node (pgpromote_success, pgpromote_candidate)', () => {
    const { k, nb, onNode } = tiered({}, 3, 10);
    expect(onNode(0)).toBe(3);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_SUCCESS)).toBe(3);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_CANDIDATE)).toBe(3);
    expect(nb.stats.migrated).toBe(3);
  });

  it('mode 2 leaves a page faulted after the hot threshold on the slow tier', () => {
    const { k, nb, onNode } = tiered({ hotThresholdMs: 5 }, 2, 10);
    expect(onNode(1)).toBe(2);
    expect(nb.stats.cold).toBe(2);
    expect(k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_SUCCESS)).toBe(0);
  });

  /** Node 0 with a CPU, node 1 CPU-less (slow), mode 2 alone, `pages` pages mapped. */
  function tieredMix(hotThresholdMs: number, pages: number) {
    const k = createKernel({
      nodes: [{ pages: 1024 }, { pages: 1024, cpus: 0 }],
      cpusPerNode: 1,
      variant: 'v6.3',
      zeroPage: false,
    });
    const nb = new NumaBalancing(k, {
      mode: NUMA_BALANCING_MEMORY_TIERING,
      hotThresholdMs,
      scanDelayMs: 0,
    }).install();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
    return { k, nb, mm, addr };
  }

  it('mode 2 scans only the PTEs of slow-tier pages (change_pte_range skips the top tier)', () => {
    const { k, nb, mm, addr } = tieredMix(1000, 4);
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < 4; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 5 + i);
      yield* k.lru.lruAddDrainAll();
      for (const i of [1, 3]) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        yield* migrateMisplacedFolio(k, pfnFolio(k.mem, pfn), 1, allocMisplacedDstFolio(k));
      }
      yield* k.lru.lruAddDrainAll();
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(2);
      for (let i = 0; i < 4; i++)
        expect(yield* k.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(5 + i);
    });
    k.run();
    expect(k.vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES)).toBe(2);
    expect(k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS)).toBe(2);
    expect(nb.stats.migrated).toBe(2);
    for (let i = 0; i < 4; i++) expect(nidAt(k, mm, addr + i * PAGE_SIZE)).toBe(0);
  });

  it('mode 2 measures the hint-fault latency from the scan that marked the page, not the last scan of the mm', () => {
    const { k, nb, mm, addr } = tieredMix(5, 2);
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (let i = 0; i < 2; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 5 + i);
      yield* k.lru.lruAddDrainAll();
      for (let i = 0; i < 2; i++) {
        const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
        yield* migrateMisplacedFolio(k, pfnFolio(k.mem, pfn), 1, allocMisplacedDstFolio(k));
      }
      yield* k.lru.lruAddDrainAll();
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(2); // both pages marked at t0
      k.rt.charge(10_000_000);
      expect(yield* k.vm.userRead(mm, addr + PAGE_SIZE)).toBe(6); // page 1: cold, stays
      // page 0 is still PROT_NONE from t0: this pass marks page 1 only
      expect(yield* nb.taskNumaWorkPass(mm)).toBe(1);
      expect(yield* k.vm.userRead(mm, addr)).toBe(5); // scanned 10 ms ago: cold
      expect(yield* k.vm.userRead(mm, addr + PAGE_SIZE)).toBe(6); // scanned just now: hot
    });
    k.run();
    expect(nb.stats.cold).toBe(2);
    expect(nidAt(k, mm, addr)).toBe(1);
    expect(nidAt(k, mm, addr + PAGE_SIZE)).toBe(0);
  });

  it('mode 2 stops promoting at numa_balancing_promote_rate_limit_MBps', () => {
    // 1 MB/s = 256 pages per second: from the 256th candidate of the window on, refused
    const { nb, onNode } = tiered({ promoteRateLimitMBps: 1 }, 260, 0);
    expect(onNode(0)).toBe(255);
    expect(nb.stats.rateLimited).toBe(5);
  });

  it('does not migrate a THP mapped by two processes (numamigrate_isolate_page)', () => {
    const k = machine([{ pages: 2048 }, { pages: 2048 }]);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 512 * PAGE_SIZE, hugepage: true });
    const res = { rc: null as number | null, listLeft: 0, leftAfterPutback: 0 };
    let refused = '';
    let folio = -1;
    k.rt.spawn('t', 1, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.lru.lruAddDrainAll();
      folio = pfnFolio(k.mem, k.vm.followPage(mm, addr));
      yield* k.vm.fork(mm, 'child'); // the PMD mapping is shared with the child
      yield* migrateMisplacedFolio(k, folio, 0, allocMisplacedDstFolio(k), {
        result: res,
        refused: (why) => {
          refused = why;
        },
      });
    });
    k.run();
    expect(folioTestLarge(k.mem, folio)).toBe(true);
    expect(refused).toBe('sharedThp');
    expect(res.rc).toBeNull();
    expect(folioNid(k.mem, folio)).toBe(1);
  });

  it('a CPU-less node is not top tier', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256, cpus: 0 }] });
    expect(nodeIsToptier(k, 0)).toBe(true);
    expect(nodeIsToptier(k, 1)).toBe(false);
  });
});
