import { touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, type MigrateMode, MR_SYSCALL } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { migrator, migratorStats } from '../actors/migrator.js';
import { mappedFolios } from '../actors/selectors.js';
import { userTask, userTaskStats } from '../actors/user-task.js';
import type { Scenario } from '../scenario.js';

/** Parameters of `pmbenchMigrate`. */
export interface PmbenchMigrateParams {
  /** Threads of the process, one per CPU. Default 4. */
  readonly threads?: number;
  /** Pages of its working set. Default 256. */
  readonly pages?: number;
  /** Round trips: node 0 -> node 1 -> node 0 is one. Default 2. */
  readonly roundTrips?: number;
  /** Mode of the migrate_pages calls. Default MIGRATE_SYNC (migratepages(8) / migrate_pages(2)). */
  readonly mode?: MigrateMode;
  /** Virtual ns of work a thread does between two accesses. Default 2000. */
  readonly computeNs?: number;
  /**
   * A test of fixed duration, in virtual ns, instead of `roundTrips`: pmbench runs for a
   * set time (`pmbench [OPTIONS...] duration`, "the main benchmark runs for duration
   * seconds", pmbench(1), Jisoo Yang, Intel) and `migratepages` moves its pages "between
   * node 0 and node 1 back and forth" for as long (the cover letter of the batching series,
   * 20230213123444.155149-1-ying.huang@intel.com). The migrator starts no new
   * migrate_pages(2) call once this much of its virtual time has passed; the threads stop
   * with it. A faster kernel then makes more calls in the same test, and the IPIs counted
   * "during the test" grow with them (see the `ipisPerSecond` figure). Not given together
   * with `roundTrips`. Default: none (a fixed number of round trips).
   */
  readonly durationNs?: number;
}

/**
 * `pmbench-migrate`: the shape of the test behind the batching series' headline (v5 cover
 * letter, patch 9 "batch flushing TLB", 7e12beb8ca2a): a process runs pmbench with T
 * threads on T CPUs over N pages while `migratepages` moves all of them from node 0 to
 * node 1 and back, K times. On a 2-socket Intel server, TLB-flush IPIs dropped 99.1% and
 * pages migrated per second rose 291.7% (20230213123444.155149-1-ying.huang@intel.com).
 *
 * Here the threads touch their pages at random (half stores) on CPUs 1..T, which puts
 * those CPUs in the mm's `mm_cpumask`, so every flush of a PTE of the process is a
 * shootdown to them; the migrator (CPU 0) calls migrate_pages(2)-style migrations of the
 * whole range. 6.2 flushes once per page (`try_to_migrate` with flags 0); 6.3 defers the
 * flushes of an ASYNC batch (TTU_BATCH_FLUSH) to one `try_to_unmap_flush` per batch (a
 * MIGRATE_SYNC call first tries the batch asynchronously). The strategy is
 * `'lowest-clock'`, so virtual time runs like a discrete-event simulation. Figures:
 * `ipis`, `shootdowns`, `pagesMigrated`, `migrationNs` (virtual time inside migrate_pages),
 * `pagesPerSecond` (pages migrated per virtual second of it), `testNs` (the migrator's
 * first call to the end of its last) and `ipisPerSecond` (IPIs per virtual second of the
 * test). The test is a fixed number of round trips by default, or, with `durationNs`, a
 * fixed time as pmbench runs: then the kernel that migrates faster also makes more calls,
 * and so more flushes, within it.
 */
export function pmbenchMigrate(params: PmbenchMigrateParams = {}): Scenario {
  const threads = params.threads ?? 4;
  const pages = params.pages ?? 256;
  const roundTrips = params.roundTrips ?? 2;
  const mode = params.mode ?? MIGRATE_SYNC;
  const computeNs = params.computeNs ?? 2000;
  const durationNs = params.durationNs;
  if (durationNs !== undefined) {
    if (!Number.isInteger(durationNs) || durationNs < 1000 || durationNs > 1e9) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `durationNs must be an integer in [1000, 1000000000], got ${String(durationNs)}`,
      );
    }
    if (params.roundTrips !== undefined) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'durationNs and roundTrips are two lengths of the test: give one of them, not both',
      );
    }
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > 63) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `threads must be an integer in [1, 63], got ${String(threads)}`,
    );
  }
  if (!Number.isInteger(pages) || pages < 1 || pages > 4096) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `pages must be an integer in [1, 4096], got ${String(pages)}`,
    );
  }
  const cpus = threads + 1;
  const node0 = Math.ceil(cpus / 2);
  const nodePages = Math.max(1024, 2 * pages + 512);
  return {
    name: 'pmbench-migrate',
    title:
      'The series headline: pmbench threads while migratepages moves their pages back and forth',
    description:
      'A process with T threads on T CPUs accesses N pages while a migrator moves all of them ' +
      'between node 0 and node 1 and back, K times: the test behind the batch TLB flushing ' +
      "series' headline (TLB-flush IPIs -99.1%, pages migrated per second +291.7% on a " +
      '2-socket Intel server). Compare v6.2 (a flush per page) with v6.3 (one flush per batch).',
    sources: [
      'Series v5 cover letter https://lore.kernel.org/linux-mm/20230213123444.155149-1-ying.huang@intel.com/',
      '7e12beb8ca2a "migrate_pages: batch flushing TLB" (6.3-rc1)',
      'docs/model-vs-kernel.md#pmbench-migrate',
    ],
    config: {
      nodes: [
        { pages: nodePages, cpus: node0 },
        { pages: nodePages, cpus: cpus - node0 },
      ],
      variant: 'v6.3',
      strategy: 'lowest-clock',
      zeroPage: false,
    },
    build(k) {
      const mm = k.createProcess('pmbench');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      const stats = migratorStats();
      const users = Array.from({ length: threads }, () => userTaskStats());
      // Fixed duration: the migrator's `until` ends the test at the first call boundary
      // past `durationNs` (`stopped`), and the threads stop with it.
      let stopped = false;
      const until =
        durationNs === undefined
          ? undefined
          : (clockNs: number) => {
              if (clockNs - stats.startNs >= durationNs) stopped = true;
              return stopped;
            };
      const done = durationNs === undefined ? () => stats.rounds >= 2 * roundTrips : () => stopped;
      let ipisBefore = 0;
      let shootdownsBefore = 0;
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 7000 + i);
          ipisBefore = k.vm.tlbStats.ipisSent;
          shootdownsBefore = k.vm.tlbStats.shootdowns;
        },
        actors: [
          migrator(k, {
            name: 'migratepages',
            cpu: 0,
            mode,
            reason: MR_SYSCALL,
            rounds: durationNs === undefined ? 2 * roundTrips : Number.MAX_SAFE_INTEGER,
            select: mappedFolios(k, mm, addr, pages),
            stats,
            ...(until === undefined ? {} : { until }),
          }),
          ...users.map((s, t) =>
            userTask(k, {
              name: `pmbench/${t}`,
              cpu: t + 1,
              mm,
              addr,
              pages,
              pattern: 'random',
              accesses: 1_000_000,
              writeRatio: 0.5,
              computeNs,
              until: done,
              stats: s,
            }),
          ),
        ],
        figures: () => ({
          ipis: k.vm.tlbStats.ipisSent - ipisBefore,
          // The length of the test: the migrator's first call to the end of its last.
          testNs: stats.endNs - stats.startNs,
          // IPIs per virtual second of the test: what a test of any fixed duration counts,
          // divided by that duration (the series' "IPIs during the test", per second).
          ipisPerSecond:
            stats.endNs > stats.startNs
              ? ((k.vm.tlbStats.ipisSent - ipisBefore) * 1e9) / (stats.endNs - stats.startNs)
              : 0,
          shootdowns: k.vm.tlbStats.shootdowns - shootdownsBefore,
          pagesMigrated: stats.pagesMigrated,
          pagesFailed: stats.pagesFailed,
          migrationNs: stats.migrateNs,
          pagesPerSecond: stats.migrateNs > 0 ? (stats.pagesMigrated * 1e9) / stats.migrateNs : 0,
          accesses: users.reduce((n, s) => n + s.loads + s.stores, 0),
        }),
      };
    },
  };
}
