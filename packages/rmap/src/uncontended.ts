import type { AnonVma } from './anon-vma.js';
import { VM_LOCKED } from './constants.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * @internal The uncontended fast paths of the rmap walks (`try_to_migrate` and
 * `remove_migration_ptes` of a singly-mapped anon folio as plain calls): a switch and a
 * count, for the tests that compare them with the general path, and the entry checks both
 * walks share. Nothing in the model
 * reads `walks`; `enabled` false makes every walk take the general path.
 */
export const rmapUncontended = { enabled: true, walks: 0 };

/**
 * The one VMA of `av` when an uncontended walk may visit it as plain calls: the anon_vma
 * has a single VMA (no `cond_resched()` between VMAs), its rwsem has no writer and no
 * waiter (unless the caller already holds it: `locked`), and the VMA is neither hugetlb
 * nor VM_LOCKED (no mlock drain). `undefined` otherwise; changes nothing.
 */
export function soleUncontendedVma(av: AnonVma, locked: boolean): Vma | undefined {
  if (av.rbRoot.size !== 1) return undefined;
  const sem = av.rwsem;
  if (!locked && (sem.writer !== null || sem.waiters > 0)) return undefined;
  let vma: Vma | undefined;
  for (const avc of av.rbRoot) vma = avc.vma;
  if (vma === undefined || isVmHugetlbPage(vma) || (vma.flags & VM_LOCKED) !== 0) return undefined;
  return vma;
}

/**
 * Enters an uncontended walk over `av`: takes its rwsem for read (free, as
 * `soleUncontendedVma` checked), or, for a `locked` walk, checks that the current task holds
 * it. False when a locked walk's caller does not hold it: the general walk then reports that.
 */
export function enterUncontendedWalk(ctx: RmapState, av: AnonVma, locked: boolean): boolean {
  const sem = av.rwsem;
  if (locked) {
    const me = ctx.rt.current;
    if (sem.writer !== me && !sem.holdsRead(me)) return false;
  } else {
    sem.downReadTrylock();
  }
  rmapUncontended.walks++;
  return true;
}
