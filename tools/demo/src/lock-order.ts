import { createPhysicalMemory, type Folio, folioAlloc } from '@mmsim/folio';
import { formatInversion, PageLockTable } from '@mmsim/page-lock';
import {
  exploreExhaustively,
  formatDeadlock,
  type KernelGen,
  Runtime,
  type StrategySpec,
  type WaitEdge,
} from '@mmsim/runtime';

/**
 * Two migrators each lock a batch of the same two folios (PG_locked, @mmsim/page-lock), in
 * opposite list order: the question reviewers asked of the 2022 batching RFC.
 *
 * - `rfc-2022`: every lock in the batch may sleep (folio_lock) while others are held.
 * - `v6.3`: the batch only trylocks (MIGRATE_ASYNC); a folio whose lock is busy is left
 *   for the one-by-one sync pass, which holds one lock at a time.
 */
export type LockPolicy = 'rfc-2022' | 'v6.3';

function runMigrators(strategy: StrategySpec, policy: LockPolicy) {
  const rt = new Runtime({ cpus: 2, strategy, meta: `demo lock-order ${policy}` });
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
  const locks = new PageLockTable(rt, mem, { dependencyChecking: true });
  const a = folioAlloc(mem, 0, 0);
  const b = folioAlloc(mem, 0, 0);
  const migrator = (batch: Folio[]) =>
    function* (): KernelGen {
      const held: Folio[] = [];
      const retry: Folio[] = [];
      for (const folio of batch) {
        if (policy === 'rfc-2022') {
          yield* locks.folioLock(folio, 'migrate_folio_unmap');
          held.push(folio);
        } else if (locks.folioTrylock(folio, 'migrate_folio_unmap')) {
          held.push(folio);
        } else {
          retry.push(folio);
        }
        yield; // another CPU may run between two folios of the batch
      }
      for (const folio of held) locks.folioUnlock(folio); // the move phase would run here
      for (const folio of retry) {
        yield* locks.folioLock(folio, 'migrate_pages_sync');
        yield;
        locks.folioUnlock(folio);
      }
    };
  rt.spawn('migrate-ab', 0, migrator([a, b]));
  rt.spawn('migrate-ba', 1, migrator([b, a]));
  return { result: rt.run(), inversions: locks.checker?.reports ?? [] };
}

export interface LockOrderReport {
  readonly policy: LockPolicy;
  readonly schedules: number;
  readonly deadlocks: number;
  /** Schedules that did not deadlock, yet where the dependency checker saw an inversion. */
  readonly inversionsWithoutDeadlock: number;
  readonly firstCycle: readonly WaitEdge[];
  readonly firstReport: string;
  /** The checker's report from the first schedule that did not deadlock, or ''. */
  readonly firstInversion: string;
  readonly replayToken: string;
  /** Replaying the first deadlock's token gave the same report. */
  readonly replayReproduces: boolean;
}

/** Runs every schedule of the two migrators under one policy, then replays the first deadlock. */
export function exploreLockOrder(policy: LockPolicy): LockOrderReport {
  let deadlocks = 0;
  let inversionsWithoutDeadlock = 0;
  let replayToken = '';
  let firstCycle: readonly WaitEdge[] = [];
  let firstReport = '';
  let firstInversion = '';
  const { schedules } = exploreExhaustively((strategy) => {
    const { result, inversions } = runMigrators(strategy, policy);
    if (inversions.length > 0 && firstInversion === '')
      firstInversion = formatInversion(inversions[0]!);
    if (result.deadlock === null) {
      if (inversions.length > 0) inversionsWithoutDeadlock++;
      return;
    }
    deadlocks++;
    if (replayToken === '') {
      replayToken = result.replayToken;
      firstCycle = result.deadlock.cycle;
      firstReport = formatDeadlock(result.deadlock);
    }
  });
  let replayReproduces = false;
  if (replayToken !== '') {
    const { result } = runMigrators({ kind: 'replay', token: replayToken }, policy);
    replayReproduces = result.deadlock !== null && formatDeadlock(result.deadlock) === firstReport;
  }
  return {
    policy,
    schedules,
    deadlocks,
    inversionsWithoutDeadlock,
    firstCycle,
    firstReport,
    firstInversion,
    replayToken,
    replayReproduces,
  };
}
