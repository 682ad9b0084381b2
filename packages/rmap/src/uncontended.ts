import {
  type Folio,
  type MemmapReader,
  PAGE_MAPPING_ANON,
  PG_locked,
  type PhysicalMemory,
  readerFolioMapped,
} from '@mmsim/folio';
import type { RwSemaphore, Spinlock } from '@mmsim/runtime';
import { type AddressSpace, folioAddressSpace } from './address-space.js';
import { type AnonVma, anonFolioAnonVma } from './anon-vma.js';
import { VM_LOCKED } from './constants.js';
import { isVmHugetlbPage } from './hugetlb-state.js';
import type { RmapState } from './rmap-state.js';
import type { Vma } from './vma.js';

/**
 * @internal The uncontended fast paths of the rmap walks (`try_to_migrate` and
 * `remove_migration_ptes` of a singly-mapped anon or page-cache folio as plain calls): a
 * switch and a count, for the tests that compare them with the general path, and the entry
 * checks both walks share. Nothing in the model reads `walks`; `enabled` false makes every
 * walk take the general path.
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
  const hint = av.lastLinked;
  if (hint !== null && av.rbRoot.has(hint)) vma = hint.vma;
  else for (const avc of av.rbRoot) vma = avc.vma;
  if (vma === undefined || isVmHugetlbPage(vma) || (vma.flags & VM_LOCKED) !== 0) return undefined;
  return vma;
}

/**
 * `soleUncontendedVma` for a page-cache folio's file: the one VMA of `as`'s `i_mmap` when
 * `rmap_walk_file` would visit it as plain calls: `i_mmap` holds a single VMA (no
 * `cond_resched()` between VMAs), `i_mmap_rwsem` has no writer and no waiter (its
 * `down_read_trylock` succeeds; unless the caller holds it: `locked`), and the VMA is
 * neither hugetlb nor VM_LOCKED. `undefined` otherwise; changes nothing.
 */
export function soleUncontendedFileVma(as: AddressSpace, locked: boolean): Vma | undefined {
  const vmas = as.iMmap;
  if (vmas.size !== 1) return undefined;
  const sem = as.iMmapRwsem;
  if (!locked && (sem.writer !== null || sem.waiters > 0)) return undefined;
  let vma: Vma | undefined;
  for (const v of vmas) vma = v;
  if (vma === undefined || isVmHugetlbPage(vma) || (vma.flags & VM_LOCKED) !== 0) return undefined;
  return vma;
}

/** `uncontendedWalkTarget`: `UNCONTENDED_TARGET` holds the VMA and rwsem to walk plainly. */
export const WALK_PLAIN = 0;
/** `uncontendedWalkTarget`: the walk has nothing to visit (it would return at once). */
export const WALK_NOTHING = 1;
/** `uncontendedWalkTarget`: the general walk (generators) must run. */
export const WALK_GENERAL = 2;

/**
 * What `uncontendedWalkTarget` chose, filled in by each call that returns `WALK_PLAIN` (read
 * at once, kept by nobody): the one VMA, the rmap's rwsem, and whether the folio is anon.
 */
export const UNCONTENDED_TARGET: { vma: Vma | null; sem: RwSemaphore | null; anon: boolean } = {
  vma: null,
  sem: null,
  anon: false,
};

/**
 * Which walk `rmap_walk` (mm/rmap.c, 6.3) of the live folio `folio` can be as plain calls.
 * An anon, not KSM, folio (`rmap_walk_anon`): nothing to walk without an anon_vma (unless
 * `locked`: the general walk reports it), nor, with `skipUnmapped` and not `locked`, when
 * the folio is not mapped (`folio_lock_anon_vma_read` gives up); else `soleUncontendedVma`.
 * A page-cache folio (`rmap_walk_file`): it must be locked (the general walk reports it if
 * not), nothing to walk without an address space, else `soleUncontendedFileVma`. KSM and
 * movable pages take the general walk. Changes nothing. `folio` must be live (both callers'
 * contract checks see to it): its memmap words are read unchecked.
 */
export function uncontendedWalkTarget(
  r: MemmapReader,
  mem: PhysicalMemory,
  folio: Folio,
  locked: boolean,
  skipUnmapped: boolean,
): number {
  // Anon and not KSM: the mapping's tag is exactly PAGE_MAPPING_ANON (one read for both).
  const kind = r.mappingKind[folio]!;
  let vma: Vma | undefined;
  if (kind === PAGE_MAPPING_ANON) {
    // `folio_anon_vma`: the callers checked that the folio is live, the kind is read above.
    const av = anonFolioAnonVma(r, folio);
    if (av === null) return locked ? WALK_GENERAL : WALK_NOTHING;
    if (skipUnmapped && !locked && !readerFolioMapped(r, folio)) return WALK_NOTHING;
    vma = soleUncontendedVma(av, locked);
    UNCONTENDED_TARGET.sem = av.rwsem;
    UNCONTENDED_TARGET.anon = true;
  } else if (kind === 0) {
    if ((r.flags[folio]! & (1 << PG_locked)) === 0) return WALK_GENERAL;
    const as = folioAddressSpace(mem, folio);
    if (as === null) return WALK_NOTHING;
    vma = soleUncontendedFileVma(as, locked);
    UNCONTENDED_TARGET.sem = as.iMmapRwsem;
    UNCONTENDED_TARGET.anon = false;
  } else {
    return WALK_GENERAL;
  }
  if (vma === undefined) return WALK_GENERAL;
  UNCONTENDED_TARGET.vma = vma;
  return WALK_PLAIN;
}

/**
 * Enters an uncontended walk under `sem` (an anon_vma's rwsem, or a file's `i_mmap_rwsem`):
 * takes it for read (free, as `soleUncontendedVma` / `soleUncontendedFileVma` checked), or,
 * for a `locked` walk, checks that the current task holds it. False when a locked walk's
 * caller does not hold it: the general walk then reports that.
 *
 * The read hold of an uncontended walk begins and ends within one step of the current
 * task (plain calls, no scheduling point in between), so no other task can see it: unless
 * the runtime records step footprints (the explorer's, which note every touch of the
 * lock), the round trip is taken as what it costs, `costs.lockRoundTrip`, without the
 * rwsem's bookkeeping. `exitUncontendedWalk` is the matching `up_read`.
 */
export function enterUncontendedWalk(ctx: RmapState, sem: RwSemaphore, locked: boolean): boolean {
  const rt = ctx.rt;
  if (locked) {
    const me = rt.current;
    if (sem.writer !== me && !sem.holdsRead(me)) return false;
  } else if (rt.footprints !== null) {
    sem.downReadTrylock();
  } else {
    // `down_read_trylock` needs a running task (NO_CURRENT_TASK otherwise): so does this.
    if (rt.current !== null) rt.charge(rt.costs.lockRoundTrip);
  }
  rmapUncontended.walks++;
  return true;
}

/** Leaves a walk entered with `enterUncontendedWalk`: `up_read`, unless `locked`. */
export function exitUncontendedWalk(ctx: RmapState, sem: RwSemaphore, locked: boolean): void {
  if (!locked && ctx.rt.footprints !== null) sem.upRead();
}

/**
 * `spin_lock(ptl)` of a page-table lock that is free (`uncontendedPteTable` checked), in an
 * uncontended walk: `trylock` when step footprints are recorded, else only its cost, as
 * for the rwsem above (the hold ends within the same plain calls). Returns whether the
 * lock was really taken, for `uncontendedPtlUnlock`.
 */
export function uncontendedPtlLock(ctx: RmapState, ptl: Spinlock): boolean {
  const rt = ctx.rt;
  if (rt.footprints !== null) return ptl.trylock();
  rt.charge(rt.costs.lockRoundTrip);
  return false;
}

/** `spin_unlock(ptl)` of `uncontendedPtlLock`. */
export function uncontendedPtlUnlock(ptl: Spinlock, taken: boolean): void {
  if (taken) ptl.unlock();
}

/**
 * Whether `vma` covers some page of the `nr` pages from page offset `pgoff`: the interval
 * test of `anon_vma_interval_tree_foreach` in `rmap_walk_anon` (mm/rmap.c, 6.3), as
 * `walkVmas` makes it (`vma.pgoff > last || vma.lastPgoff < pgoff` skips the VMA). Written
 * relative to `vm_pgoff`: an anonymous VMA's pgoff is its first vpn, above 2^30, and
 * `vma_last_pgoff` (`Vma.lastPgoff`) would return it as a boxed heap number on every call.
 */
export function vmaCoversPgoff(vma: Vma, pgoff: number, nr: number): boolean {
  const d = pgoff - vma.pgoff;
  return d + nr > 0 && d <= vma.nrPages - 1;
}
