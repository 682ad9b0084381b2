import type { Kernel } from '@mmsim/kernel';
import type { Invariant } from '@mmsim/runtime';
import { firstProblem } from './invariant.js';

/**
 * `no-lost-write`: every place reads its last written value. After each step: no reader
 * has seen anything else (the actors compare each load with the shadow in the step of the
 * load). At the end: every place the actors wrote holds the last value written there,
 * read directly from the page tables and page caches.
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
