import {
  exploreExhaustively,
  formatDeadlock,
  type KernelGen,
  Mutex,
  Runtime,
  type StrategySpec,
  type WaitEdge,
} from '@mmsim/runtime';

/**
 * Two migrators each lock a batch of the same two pages, in opposite list order: the
 * question reviewers asked of the 2022 batching RFC. Until @mmsim/page-lock lands, a
 * mutex per page stands in for PG_locked.
 *
 * - `rfc-2022`: every lock in the batch may sleep (lock_page) while others are held.
 * - `v6.3`: the batch only trylocks (MIGRATE_ASYNC); a folio whose lock is busy is left
 *   for the one-by-one sync pass, which holds one lock at a time.
 */
export type LockPolicy = 'rfc-2022' | 'v6.3';

function runMigrators(strategy: StrategySpec, policy: LockPolicy) {
  const rt = new Runtime({ cpus: 2, strategy, meta: `demo lock-order ${policy}` });
  const a = new Mutex(rt, 'folio A PG_locked');
  const b = new Mutex(rt, 'folio B PG_locked');
  const migrator = (batch: Mutex[]) =>
    function* (): KernelGen {
      const held: Mutex[] = [];
      const retry: Mutex[] = [];
      for (const page of batch) {
        if (policy === 'rfc-2022') {
          yield* page.lock('migrate_folio_unmap');
          held.push(page);
        } else if (page.trylock()) {
          held.push(page);
        } else {
          retry.push(page);
        }
        yield; // another CPU may run between two folios of the batch
      }
      for (const page of held) page.unlock(); // the move phase would run here
      for (const page of retry) {
        yield* page.lock('migrate_pages_sync');
        yield;
        page.unlock();
      }
    };
  rt.spawn('migrate-ab', 0, migrator([a, b]));
  rt.spawn('migrate-ba', 1, migrator([b, a]));
  return rt.run();
}

export interface LockOrderReport {
  readonly policy: LockPolicy;
  readonly schedules: number;
  readonly deadlocks: number;
  readonly firstCycle: readonly WaitEdge[];
  readonly firstReport: string;
  readonly replayToken: string;
  /** Replaying the first deadlock's token gave the same report. */
  readonly replayReproduces: boolean;
}

/** Runs every schedule of the two migrators under one policy, then replays the first deadlock. */
export function exploreLockOrder(policy: LockPolicy): LockOrderReport {
  let deadlocks = 0;
  let replayToken = '';
  let firstCycle: readonly WaitEdge[] = [];
  let firstReport = '';
  const { schedules } = exploreExhaustively((strategy) => {
    const result = runMigrators(strategy, policy);
    if (result.deadlock === null) return;
    deadlocks++;
    if (replayToken === '') {
      replayToken = result.replayToken;
      firstCycle = result.deadlock.cycle;
      firstReport = formatDeadlock(result.deadlock);
    }
  });
  let replayReproduces = false;
  if (replayToken !== '') {
    const replayed = runMigrators({ kind: 'replay', token: replayToken }, policy);
    replayReproduces =
      replayed.deadlock !== null && formatDeadlock(replayed.deadlock) === firstReport;
  }
  return { policy, schedules, deadlocks, firstCycle, firstReport, replayToken, replayReproduces };
}
