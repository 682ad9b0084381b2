import {
  type DemotionResult,
  kernelDemotionTargets,
  kswapdDemote,
  NUMA_BALANCING_MEMORY_TIERING,
  NumaBalancing,
  taskNumaWork,
} from '@mmsim/callers';
import { folioNid, pfnFolio } from '@mmsim/folio';
import type { Actor } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, NodeStat, type Task, VmEvent } from '@mmsim/runtime';
import { userTask } from '../actors/user-task.js';
import { bugHistory, type Scenario } from '../scenario.js';

/**
 * The slow tier's cost factors: 2x `userAccess` and 2x `copyPage4k`, the low end of the
 * 2-5x higher latency than local DRAM that arXiv:2405.14209 ("Exploring and Evaluating
 * Real-world CXL", 2024) measured on three CXL memory-expansion cards.
 */
export const CXL_MEMORY = Object.freeze({ accessFactor: 2, copyFactor: 2 });

/** Parameters of `tiering`. */
export interface TieringParams {
  /** Pages of the hot working set. Default 8. */
  readonly hot?: number;
  /** Pages of the cold working set. Default 16. */
  readonly cold?: number;
  /** Accesses of the thread to the hot set (half of them stores). Default 32. */
  readonly accesses?: number;
}

/**
 * `tiering`: a two-tier machine, node 0 with CPUs (fast) and node 1 CPU-less (slow, as
 * dax/kmem memory). A process writes a cold and a hot working set on node 0. Reclaim on
 * node 0 (`kswapd`, `shrink_folio_list` -> `demote_folio_list`, MR_DEMOTION, mm/vmscan.c
 * 6.3) demotes both sets to node 1 (the demotion target `establish_demotion_targets`
 * computes from distances); then NUMA balancing in mode 2 (NUMA_BALANCING_MEMORY_TIERING,
 * 6.3) marks the mm and the thread's accesses to the hot set take hinting faults on the slow
 * tier: those pages are promoted back (MR_NUMA_MISPLACED, `pgpromote_success`), the cold set
 * stays on node 1.
 *
 * Node 1 is costed as CXL memory (`CXL_MEMORY`: user accesses and page copies to or from it
 * cost twice the DRAM figures).
 *
 * Clean in 6.3: no lost write, no migration entry left, no leaked isolation. Figures:
 * pgdemote_kswapd, pgpromote_candidate / pgpromote_success, pages of each set per node; the
 * `mmsim run` summary adds the per-reason cost table (demotion, numa_misplaced).
 */
export function tiering(params: TieringParams = {}): Scenario {
  const hot = params.hot ?? 8;
  const cold = params.cold ?? 16;
  const accesses = params.accesses ?? 32;
  return {
    name: 'tiering',
    title: 'Reclaim demotes to the CPU-less tier, NUMA balancing mode 2 promotes the hot pages',
    description:
      'Node 0 has CPUs, node 1 is CPU-less (slow tier). kswapd on node 0 demotes a cold and a ' +
      'hot working set to node 1 (demote_folio_list, MIGRATE_ASYNC, MR_DEMOTION); NUMA ' +
      'balancing in memory-tiering mode then promotes the pages the thread keeps touching ' +
      '(hint faults within the hot threshold, MR_NUMA_MISPLACED). Clean in 6.3; reports ' +
      'pgdemote_kswapd, pgpromote_success and where each set ended.',
    sources: [
      'torvalds/linux v6.3 mm/vmscan.c (demote_folio_list, alloc_demote_page)',
      'torvalds/linux v6.3 mm/memory-tiers.c (establish_demotion_targets)',
      'torvalds/linux v6.3 kernel/sched/fair.c (should_numa_migrate_memory, numa_promotion_rate_limit)',
      'torvalds/linux v6.3 mm/migrate.c (migrate_misplaced_page)',
      'arXiv:2405.14209 (CXL memory latency 2-5x local DRAM): the slow tier costs 2x',
    ],
    config: {
      nodes: [
        { pages: 512, cpus: 2 },
        // A CXL memory expander: loads, stores and page copies twice as slow as local DRAM
        // (the low end of the 2-5x latency of three CXL cards measured in "Exploring and
        // Evaluating Real-world CXL: Use Cases and System Adoption", arXiv:2405.14209).
        { pages: 512, cpus: 0, memory: CXL_MEMORY },
      ],
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('app');
      const coldAddr = k.vm.mmap(mm, { length: cold * PAGE_SIZE });
      const hotAddr = k.vm.mmap(mm, { length: hot * PAGE_SIZE });
      const targets = kernelDemotionTargets(k);
      const nb = new NumaBalancing(k, {
        mode: NUMA_BALANCING_MEMORY_TIERING,
        scanDelayMs: 0,
      }).install();
      const demotion: DemotionResult = { demoted: 0, stayed: 0 };
      const kswapd = kswapdDemote(k, {
        cpu: 0,
        nid: 0,
        targets,
        batch: hot + cold,
        result: demotion,
      });
      const numaWork = taskNumaWork(nb, { cpu: 0, mm });
      // Reclaim, then the NUMA scan, on CPU 0; the hot thread runs from the start on CPU 1
      // (in-order: after them; under other schedules some of its accesses come first).
      const reclaimThenScan: Actor = {
        name: 'kswapd0+task_numa_work',
        cpu: 0,
        models: `${kswapd.models}; then ${numaWork.models}`,
        *body(task: Task): KernelGen {
          yield* kswapd.body(task);
          yield* numaWork.body(task);
        },
      };
      const onNode = (addr: number, pages: number, nid: number): number => {
        let n = 0;
        for (let i = 0; i < pages; i++) {
          const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
          if (pfn >= 0 && folioNid(k.mem, pfnFolio(k.mem, pfn)) === nid) n++;
        }
        return n;
      };
      return {
        *setup() {
          for (let i = 0; i < cold; i++) yield* k.vm.userWrite(mm, coldAddr + i * PAGE_SIZE, 1 + i);
          for (let i = 0; i < hot; i++) yield* k.vm.userWrite(mm, hotAddr + i * PAGE_SIZE, 100 + i);
          yield* k.lru.lruAddDrainAll();
        },
        actors: [
          reclaimThenScan,
          userTask(k, {
            name: 'hot-thread',
            cpu: 1,
            mm,
            addr: hotAddr,
            pages: hot,
            accesses,
            writeRatio: 0.5,
          }),
        ],
        figures: () => ({
          pgdemote_kswapd: k.vmstat.vmEvent(VmEvent.PGDEMOTE_KSWAPD),
          pgpromote_candidate: k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_CANDIDATE),
          pgpromote_success: k.vmstat.nodePageState(0, NodeStat.PGPROMOTE_SUCCESS),
          numa_hint_faults: k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS),
          hot_on_fast: onNode(hotAddr, hot, 0),
          cold_on_slow: onNode(coldAddr, cold, 1),
          demotion_stayed: demotion.stayed,
        }),
      };
    },
  };
}
