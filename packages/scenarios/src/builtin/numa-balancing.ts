import { NumaBalancing, taskNumaWork } from '@mmsim/callers';
import { folioNid, HPAGE_PMD_NR, pfnFolio } from '@mmsim/folio';
import { PAGE_SIZE } from '@mmsim/rmap';
import { MmsimError, NodeStat, VmEvent } from '@mmsim/runtime';
import { userTask } from '../actors/user-task.js';
import { appMapping, writePagesAndDrain } from '../actors/written-pages.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `numaBalancing`. */
export interface NumaBalancingParams {
  /** Pages the process maps and writes (on node 0). Default 16. */
  readonly pages?: number;
  /** Accesses of each of the two threads on node 1 (half of them stores). Default 48. */
  readonly accesses?: number;
  /** `task_numa_work` passes. Default 2. */
  readonly passes?: number;
  /**
   * Map the memory with THPs (MADV_HUGEPAGE, PMD-mapped; `pages` rounded up to whole
   * THPs of 512 pages; nodes of `pages` + 1536 pages): `change_huge_pmd` marks whole PMDs
   * and each THP moves in one `do_huge_pmd_numa_page` fault. Default false.
   */
  readonly thp?: boolean;
}

/**
 * `numa-balancing`: automatic NUMA balancing (mode 1, NUMA_BALANCING_NORMAL) brings a
 * process's memory home. The pages are written on node 0; the process's two threads run on
 * node 1's CPUs. `task_numa_work` (kernel/sched/fair.c, 6.3) marks the mm's PTEs PROT_NONE
 * with `change_prot_numa` (`numa_pte_updates`); the threads' next accesses take NUMA
 * hinting faults (`do_numa_page`, `numa_hint_faults`), `mpol_misplaced` finds each page
 * off the faulting CPU's node and `migrate_misplaced_page` moves it with MIGRATE_ASYNC,
 * MR_NUMA_MISPLACED (`numa_pages_migrated`).
 *
 * Clean in 6.3: no lost write, no migration entry left, no leaked isolation. Figures: the
 * NUMA counters, the pages still on node 0, and the hint-fault outcomes.
 *
 * With `thp: true` the memory is PMD-mapped THPs: `change_huge_pmd` (mm/huge_memory.c, 6.3)
 * makes each PMD PROT_NONE (`numa_pte_updates` += 512, `numa_huge_pte_updates` += 1), one
 * `do_huge_pmd_numa_page` fault moves a whole THP, unsplit (`numa_pages_migrated` += 512,
 * `thp_migration_success`); the extra figures are the THP counters.
 */
export function numaBalancing(params: NumaBalancingParams = {}): Scenario {
  const thp = params.thp ?? false;
  if (typeof thp !== 'boolean') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `numa-balancing: thp must be true or false, got ${String(thp)}`,
    );
  }
  // with THPs the area is rounded up to whole PMDs (one THP for up to 512 pages)
  const pages = thp
    ? Math.ceil((params.pages ?? 16) / HPAGE_PMD_NR) * HPAGE_PMD_NR
    : (params.pages ?? 16);
  const accesses = params.accesses ?? 48;
  const passes = params.passes ?? 2;
  let nb: NumaBalancing | null = null;
  return {
    name: 'numa-balancing',
    title: 'task_numa_work and NUMA hinting faults migrate a process memory to its node',
    description:
      "A process's pages sit on node 0 while its two threads run on node 1. task_numa_work " +
      'marks them PROT_NONE (change_prot_numa), the threads take NUMA hinting faults and ' +
      'do_numa_page migrates each misplaced page to node 1 (migrate_misplaced_page, ' +
      'MIGRATE_ASYNC, MR_NUMA_MISPLACED). Clean in 6.3: no lost write, no migration entry ' +
      'left; reports numa_pte_updates, numa_hint_faults(_local) and numa_pages_migrated.',
    sources: [
      'torvalds/linux v6.3 kernel/sched/fair.c (task_numa_work)',
      'torvalds/linux v6.3 mm/mempolicy.c (change_prot_numa, mpol_misplaced)',
      'torvalds/linux v6.3 mm/memory.c (do_numa_page, numa_migrate_prep)',
      'torvalds/linux v6.3 mm/migrate.c (migrate_misplaced_page, numamigrate_isolate_page)',
      ...(thp
        ? ['torvalds/linux v6.3 mm/huge_memory.c (change_huge_pmd, do_huge_pmd_numa_page)']
        : []),
    ],
    config: {
      nodes: thp
        ? [{ pages: pages + 1536 }, { pages: pages + 1536 }]
        : [{ pages: 512 }, { pages: 512 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const { mm, addr } = appMapping(k, pages, thp);
      const balancing = new NumaBalancing(k, { scanDelayMs: 0 }).install();
      nb = balancing;
      const node1 = k.cpusOfNode(1);
      const onNode = (nid: number): number => {
        let n = 0;
        for (let i = 0; i < pages; i++) {
          const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
          if (pfn >= 0 && folioNid(k.mem, pfnFolio(k.mem, pfn)) === nid) n++;
        }
        return n;
      };
      return {
        *setup() {
          yield* writePagesAndDrain(k, mm, addr, pages);
        },
        actors: [
          taskNumaWork(balancing, { cpu: node1[0] ?? 0, mm, passes }),
          userTask(k, {
            name: 'thread-a',
            cpu: node1[0] ?? 0,
            mm,
            addr,
            pages,
            accesses,
            writeRatio: 0.5,
          }),
          userTask(k, {
            name: 'thread-b',
            cpu: node1[1] ?? 0,
            mm,
            addr,
            pages,
            accesses,
            writeRatio: 0.5,
          }),
        ],
        figures: () => ({
          numa_pte_updates: k.vmstat.vmEvent(VmEvent.NUMA_PTE_UPDATES),
          numa_hint_faults: k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS),
          numa_hint_faults_local: k.vmstat.vmEvent(VmEvent.NUMA_HINT_FAULTS_LOCAL),
          numa_pages_migrated: k.vmstat.vmEvent(VmEvent.NUMA_PAGES_MIGRATED),
          pgpromote_success: k.vmstat.nodePageState(1, NodeStat.PGPROMOTE_SUCCESS),
          pages_on_node0: onNode(0),
          pages_on_node1: onNode(1),
          misplaced_faults: nb?.stats.misplaced ?? 0,
          migrate_failed: nb?.stats.failed ?? 0,
          ...(thp
            ? {
                numa_huge_pte_updates: k.vmstat.vmEvent(VmEvent.NUMA_HUGE_PTE_UPDATES),
                thp_migration_success: k.vmstat.vmEvent(VmEvent.THP_MIGRATION_SUCCESS),
                thp_migration_fail: k.vmstat.vmEvent(VmEvent.THP_MIGRATION_FAIL),
                thp_split_page: k.vmstat.vmEvent(VmEvent.THP_SPLIT_PAGE),
              }
            : {}),
        }),
      };
    },
  };
}
