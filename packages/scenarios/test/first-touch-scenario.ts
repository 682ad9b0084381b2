import type { Actor, Kernel } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { userTask } from '../src/actors/user-task.js';
import {
  type AccessPattern,
  mappedFolios,
  migrator,
  migratorStats,
  type Scenario,
} from '../src/index.js';

/** What `firstTouchesUnderMigration` builds: its threads and what else runs with them. */
export interface FirstTouchScenarioOptions {
  readonly name: string;
  readonly title: string;
  /** Untouched pages of the one anonymous mapping. */
  readonly pages: number;
  /** The migrator's rounds over what is mapped. */
  readonly rounds: number;
  /** The CPUs of the touching threads, one thread each (`t<cpu>`). */
  readonly cpus: readonly number[];
  readonly pattern: (cpu: number) => AccessPattern;
  readonly writeRatio: (cpu: number) => number;
  /** Further actors (a task holding a lock, …). */
  readonly others?: (k: Kernel) => Actor[];
}

/**
 * A test scenario of two nodes of 512 pages and 2 CPUs each: threads making 60 accesses each
 * to one untouched anonymous mapping, so every page is faulted in by the first thread to
 * reach it, while a synchronous move_pages-style migrator on CPU 0 moves what is mapped.
 */
export function firstTouchesUnderMigration(o: FirstTouchScenarioOptions): Scenario {
  return {
    name: o.name,
    title: o.title,
    description: 'a test scenario',
    sources: [],
    config: {
      nodes: [
        { pages: 512, cpus: 2 },
        { pages: 512, cpus: 2 },
      ],
    },
    build(k) {
      const mm = k.createProcess('p');
      const addr = k.vm.mmap(mm, { length: o.pages * PAGE_SIZE });
      const pages = o.pages;
      return {
        actors: [
          migrator(k, {
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: o.rounds,
            select: mappedFolios(k, mm, addr, pages),
            stats: migratorStats(),
          }),
          ...o.cpus.map((cpu) =>
            userTask(k, {
              name: `t${cpu}`,
              cpu,
              mm,
              addr,
              pages,
              pattern: o.pattern(cpu),
              accesses: 60,
              writeRatio: o.writeRatio(cpu),
            }),
          ),
          ...(o.others?.(k) ?? []),
        ],
      };
    },
  };
}
