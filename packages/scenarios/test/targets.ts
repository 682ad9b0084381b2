import type { ExplorationTarget, InstanceOptions } from '@mmsim/explore';
import { createPhysicalMemory, type Folio, folioAlloc } from '@mmsim/folio';
import { PageLockTable } from '@mmsim/page-lock';
import { Completion, type KernelGen, Runtime } from '@mmsim/runtime';
import { pageLockInversionCheck } from '../src/index.js';

/**
 * Two tasks lock two folios (PG_locked, dependency checker on) in opposite orders, but
 * the second starts only when the first has finished (a completion), so it never
 * deadlocks: only the checker sees the inversion. (Moved from @mmsim/explore's tests,
 * which use runtime-only targets.)
 */
export function inversion(): ExplorationTarget {
  return {
    name: 'inversion',
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const mem = createPhysicalMemory({ nodes: [{ pages: 64 }] });
      const locks = new PageLockTable(rt, mem, { dependencyChecking: true });
      const a = folioAlloc(mem, 0, 0) as Folio;
      const b = folioAlloc(mem, 0, 0) as Folio;
      const barrier = new Completion(rt, 'first pass done');
      const both = (first: Folio, second: Folio) =>
        function* (): KernelGen {
          yield* locks.folioLock(first, 'lock_first');
          yield;
          yield* locks.folioLock(second, 'lock_second');
          locks.folioUnlock(second);
          locks.folioUnlock(first);
        };
      const t1 = rt.spawn('ab', 0, function* (): KernelGen {
        yield* both(a, b)();
        barrier.complete();
      });
      barrier.signaller = t1;
      rt.spawn('ba', 1, function* (): KernelGen {
        yield* barrier.wait();
        yield* both(b, a)();
      });
      const checks = [pageLockInversionCheck(() => locks.checker?.reports ?? [])];
      return { rt, invariants: [], checks };
    },
  };
}
