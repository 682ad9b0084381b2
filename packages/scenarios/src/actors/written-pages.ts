import { pfnToNid } from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { type MigratorStats, migrator } from './migrator.js';
import { mappedFolios } from './selectors.js';
import { type UserTaskOptions, userTask } from './user-task.js';

/*
 * The fixture most caller scenarios share: a process writes its pages, its threads keep
 * writing them, and a caller of migrate_pages() (offline, soft-offline, CMA, move_pages,
 * NUMA balancing...) moves them meanwhile.
 */

/** The process of such a scenario: `app`, with `pages` anonymous private pages mapped at `addr` (THP-eligible with `hugepage`). */
export function appMapping(
  k: Kernel,
  pages: number,
  hugepage = false,
): { mm: MmView; addr: number } {
  const mm = k.createProcess('app');
  const addr = k.vm.mmap(mm, {
    length: pages * PAGE_SIZE,
    ...(hugepage ? { hugepage: true } : {}),
  });
  return { mm, addr };
}

/**
 * The set-up of such a scenario: the process stores `1 + i` into page `i` of `pages` pages
 * from `addr` (each store faults the page in on the set-up's CPU), then every CPU's LRU
 * batch is drained (`lru_add_drain_all`), so that the pages are on the LRU lists, where a
 * caller can isolate them.
 */
export function* writePagesAndDrain(k: Kernel, mm: MmView, addr: number, pages: number): KernelGen {
  for (let i = 0; i < pages; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 1 + i);
  yield* k.lru.lruAddDrainAll();
}

/** Options of `pageWriter`: the area the thread writes, and its CPU. */
export type PageWriterOptions = Pick<UserTaskOptions, 'cpu' | 'mm' | 'addr' | 'pages' | 'accesses'>;

/** One thread of the process (`writer`) writing its pages at random, three stores in four. */
export function pageWriter(k: Kernel, options: PageWriterOptions): Actor {
  return userTask(k, { name: 'writer', ...options, writeRatio: 0.75 });
}

/** Options of `writerPair`: the area both threads write, and each one's CPU. */
export interface WriterPairOptions
  extends Pick<UserTaskOptions, 'mm' | 'addr' | 'pages' | 'accesses'> {
  readonly cpuA: number;
  readonly cpuB: number;
}

/**
 * Two threads of the process writing its pages while the caller migrates them, three
 * stores in four: `writer-a` at random pages, `writer-b` page after page.
 */
export function writerPair(k: Kernel, options: WriterPairOptions): Actor[] {
  const { mm, addr, pages, accesses } = options;
  return [
    userTask(k, {
      name: 'writer-a',
      cpu: options.cpuA,
      mm,
      addr,
      pages,
      accesses,
      writeRatio: 0.75,
    }),
    userTask(k, {
      name: 'writer-b',
      cpu: options.cpuB,
      mm,
      addr,
      pages,
      accesses,
      writeRatio: 0.75,
      pattern: 'sequential',
    }),
  ];
}

/** Options of `movePagesToOtherNode`. */
export interface MovePagesToOtherNodeOptions {
  readonly mm: MmView;
  /** The page moved: the folio mapped at `addr`. */
  readonly addr: number;
  /** move_pages calls. */
  readonly rounds: number;
  readonly stats: MigratorStats;
}

/**
 * move_pages(2) on CPU 0 (MIGRATE_SYNC, MR_SYSCALL) of the folio mapped at `addr`, each
 * call to the node it is not on (node 1 while it is not mapped), so that a call that left
 * it behind is followed by another try.
 */
export function movePagesToOtherNode(
  k: Kernel,
  { mm, addr, rounds, stats }: MovePagesToOtherNodeOptions,
): Actor {
  return migrator(k, {
    name: 'move_pages',
    cpu: 0,
    mode: MIGRATE_SYNC,
    reason: MR_SYSCALL,
    rounds,
    targets: () => {
      const pte = k.vm.lookupPte(mm, addr);
      return pte.kind === 'present' ? 1 - pfnToNid(k.mem, pte.pfn) : 1;
    },
    select: mappedFolios(k, mm, addr, 1),
    stats,
  });
}
