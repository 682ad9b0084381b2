import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { firstProblem } from './invariant.js';

/**
 * `no-lost-write`: every place reads its last written value. After each step: no reader
 * has seen anything else (the actors compare each load with the shadow in the step of the
 * load). At the end: every place the actors wrote holds the last value written there,
 * read directly from the page tables and page caches.
 *
 * Kernel rule: migration is invisible to user space (mm/migrate.c, 6.3: the copy happens
 * after `try_to_migrate` replaced every mapping by a migration entry and the batched TLB
 * flush, so no CPU can store to src any more; a fault on the entry waits in
 * `migration_entry_wait` until the folio is unlocked). A value is recorded in the same
 * atomic step as the store, so no legal interleaving makes a load see another one.
 */
export function noLostWrite(k: Kernel): Invariant {
  return {
    name: 'no-lost-write',
    check(phase) {
      if (phase === 'end') {
        const found = firstProblem(k.shadow.verifyAll());
        if (found !== null) return found;
      }
      return firstProblem(k.shadow.violations);
    },
  };
}
