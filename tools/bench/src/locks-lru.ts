import { createPhysicalMemory, folioAlloc, folioSetFlag, PG_swapbacked } from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { PageLockTable } from '@mmsim/page-lock';
import { type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { type BenchResult, opsPerSecond } from './measure.js';

export function lockAndLruBenchmarks(): BenchResult[] {
  /** Runs `body` as the only task of a fresh one-CPU runtime. */
  const run = (body: (rt: Runtime) => KernelGen) => {
    const rt = new Runtime({ cpus: 1 });
    rt.spawn('bench', 0, () => body(rt));
    if (rt.run().status !== 'completed') throw new Error('bench task did not complete');
  };
  const lock = (checking: boolean) =>
    opsPerSecond((n) => {
      const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
      const folio = folioAlloc(mem, 0, 0);
      run(function* (rt) {
        const locks = new PageLockTable(rt, mem, { dependencyChecking: checking });
        for (let i = 0; i < n; i++) {
          if (!locks.folioLockFast(folio, 'bench')) yield* locks.folioLockContended(folio, 'bench');
          locks.folioUnlock(folio);
        }
      });
    });
  const plain = lock(false);
  const checked = lock(true);

  const isolate = opsPerSecond((n) => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
    const folio = folioAlloc(mem, 0, 0);
    folioSetFlag(mem, folio, PG_swapbacked);
    run(function* (rt) {
      const lru = new LruVecs(rt, mem, new VmStat(1));
      yield* lru.folioAddLru(folio);
      yield* lru.lruAddDrain();
      for (let i = 0; i < n; i++) {
        if (!(yield* lru.folioIsolateLru(folio))) throw new Error('isolation failed');
        // Putback parks the folio in this CPU's batch, where it cannot be isolated again
        // until a drain moves it to the lruvec.
        yield* lru.folioPutbackLru(folio);
        yield* lru.lruAddDrain();
      }
    });
  });

  return [
    {
      name: 'page_lock.uncontended_lock_unlock_per_sec',
      value: plain.opsPerSec,
      unit: 'lock+unlock/s',
      better: 'higher',
      description: 'folioLockFast + folioUnlock on one folio by one task, dependency checker off.',
      detail: { ops: plain.ops, bestMs: plain.bestMs },
    },
    {
      name: 'page_lock.uncontended_lock_unlock_checked_per_sec',
      value: checked.opsPerSec,
      unit: 'lock+unlock/s',
      better: 'higher',
      description: 'As above with the page-lock dependency checker on.',
      detail: { ops: checked.ops, bestMs: checked.bestMs },
    },
    {
      name: 'lru.isolate_putback_per_sec',
      value: isolate.opsPerSec,
      unit: 'isolate+putback/s',
      better: 'higher',
      description:
        'folioIsolateLru + folioPutbackLru + lruAddDrain of one anon folio by one task: the putback parks the folio in the per-CPU batch, so each round drains it back (lru_lock taken twice per round).',
      detail: { ops: isolate.ops, bestMs: isolate.bestMs },
    },
  ];
}
