import {
  type Folio,
  folioGet,
  folioNid,
  folioNrPages,
  folioRefCount,
  folioTestClearFlag,
  LRU_MARK_SHIFT,
  memmapReader,
  PG_lru,
} from '@mmsim/folio';
import { FP_FOLIO, FP_LRU_LIST, type KernelGen, MmsimError } from '@mmsim/runtime';
import { type LruState, requireTask, WHERE_ISOLATING, WHERE_NONE } from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import { lruUncontended, uncontendedLock, uncontendedUnlock } from './uncontended.js';

/**
 * `folio_isolate_lru` (mm/vmscan.c, Linux 6.3): take `folio` off its LRU list for the
 * caller. Returns true on success, false when the folio is not on an LRU list (still in a
 * per-CPU batch, already isolated by someone else, or never added).
 *
 * Return type: 6.3 returns bool. Baolin Wang's "mm: change to return bool for
 * folio_isolate_lru()" (be2d57563822) replaced the old `0 / -EBUSY` int and was merged in
 * the 6.3 merge window (it is in Andrew Morton's "MM updates for 6.3-rc1" pull of
 * 2023-02-20).
 *
 * Contract: the caller holds a reference (refcount 0 is a VM_BUG_ON in the kernel and a
 * CONTRACT_VIOLATION here, with nothing changed), does not hold `lru_lock` (the kernel
 * deadlocks, and so does the model: the runtime reports the cycle), and runs in a task.
 *
 * The race: `folio_test_clear_lru` is the atomic test-and-clear that elects one winner;
 * the winner then takes its own reference (`folio_get`, after the clear in 6.3), and only
 * then `lru_lock` to unlink the folio. The scheduling point sits in that window, where the
 * kernel really is open to other CPUs: a second isolator there sees PG_lru clear and fails
 * although the folio is still linked. What isolation leaves on the folio: PG_lru clear,
 * PG_active and PG_unevictable as they were (the caller, or putback, deals with them), one
 * more reference. It does not touch NR_ISOLATED: the caller accounts that.
 */
export function* folioIsolateLru(s: LruState, folio: Folio): KernelGen<boolean> {
  const state = folioIsolateLruStart(s, folio);
  if (state === ISOLATE_LRU_DONE) return true;
  if (state === ISOLATE_LRU_FAILED) return false;
  return yield* folioIsolateLruFinish(s, folio, state);
}

/**
 * `folioIsolateLruPlain`: nothing was done, the plain calls are switched off
 * (`lruUncontended.enabled`): run `folioIsolateLru`.
 */
export const ISOLATE_LRU_GENERAL = -1;
/** `folioIsolateLruStart`: the folio was not on an LRU list; nothing changed (false). */
export const ISOLATE_LRU_FAILED = 0;
/** `folioIsolateLruStart`: isolated (true), as plain calls. */
export const ISOLATE_LRU_DONE = 1;
/**
 * `folioIsolateLruStart`: PG_lru won and the isolation reference taken; the scheduling
 * point before `lru_lock` needs a real `yield` (run `folioIsolateLruFinish`).
 */
export const ISOLATE_LRU_YIELD = 2;
/**
 * `folioIsolateLruStart`: PG_lru won, the scheduling point passed, and `lru_lock` is held
 * by another task: spin for it (run `folioIsolateLruFinish`).
 */
export const ISOLATE_LRU_SPIN = 3;

/**
 * `folio_isolate_lru` (above) as plain calls as far as it runs without suspending the
 * task: `ISOLATE_LRU_FAILED` or `ISOLATE_LRU_DONE` when it ran to its end (false / true);
 * `ISOLATE_LRU_YIELD` or `ISOLATE_LRU_SPIN` when it stopped at its scheduling point or at
 * a held `lru_lock`, with what it did so far kept: the caller must then run
 * `folioIsolateLruFinish` at once, from the same task. The same steps, charges and
 * decisions as the generator, which is this followed by that.
 */
export function folioIsolateLruStart(s: LruState, folio: Folio): number {
  const mem = s.mem;
  if (folioRefCount(mem, folio) === 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioIsolateLru: folio ${folio} has refcount 0; the caller must hold a reference (VM_BUG_ON_FOLIO in folio_isolate_lru)`,
    );
  }
  requireTask(s);
  s.rt.touchKernel(FP_FOLIO, folio, true); // PG_lru test-and-clear, the isolation reference
  if (!folioTestClearFlag(mem, folio, PG_lru)) return ISOLATE_LRU_FAILED;
  folioGet(mem, folio);
  s.where[folio] = WHERE_ISOLATING;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  // The window before lru_lock: a real scheduling round, or a virtual step when no other
  // task can run there (the same step count and replay token, no suspension).
  if (!s.rt.virtualStep()) return ISOLATE_LRU_YIELD;
  // The folio holds the isolation reference (a live head, checked above): its node and
  // order through the memmap reader.
  const r = memmapReader(mem);
  const lv = s.lruvecs[r.nid[folio]!] as Lruvec;
  if (lv.lock.owner !== null) {
    s.rt.touch(lv.lock.objectId, true); // the failed trylock's touch
    return ISOLATE_LRU_SPIN;
  }
  // Free, and held only until the unlink below: taken as its cost unless footprints are
  // recorded (`uncontendedLock`).
  const taken = uncontendedLock(s.rt, lv.lock);
  s.rt.touchKernel(FP_LRU_LIST, lv.nid, true); // off the list: the list and the folio's links
  s.rt.touchKernel(FP_FOLIO, folio, true);
  lv.delFolio(folio, 1 << r.order[folio]!); // folio_nr_pages
  uncontendedUnlock(lv.lock, taken);
  s.where[folio] = WHERE_NONE;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return ISOLATE_LRU_DONE;
}

/**
 * `LruIsolation.folioIsolateLruStart`: `folioIsolateLruStart`, or `ISOLATE_LRU_GENERAL`
 * (nothing done) when the plain calls are switched off.
 */
export function folioIsolateLruPlain(s: LruState, folio: Folio): number {
  if (!lruUncontended.enabled) return ISOLATE_LRU_GENERAL;
  lruUncontended.isolations++;
  return folioIsolateLruStart(s, folio);
}

/**
 * The rest of a `folioIsolateLruStart` that returned `ISOLATE_LRU_YIELD` (the scheduling
 * point, then `lru_lock`) or `ISOLATE_LRU_SPIN` (spin for `lru_lock`): unlinks the folio.
 * Returns true.
 */
export function* folioIsolateLruFinish(
  s: LruState,
  folio: Folio,
  state: number,
): KernelGen<boolean> {
  if (state !== ISOLATE_LRU_YIELD && state !== ISOLATE_LRU_SPIN) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folioIsolateLruFinish: state ${String(state)} is not ISOLATE_LRU_YIELD or ISOLATE_LRU_SPIN`,
    );
  }
  if (state === ISOLATE_LRU_YIELD) yield;
  const lv = s.lruvecs[folioNid(s.mem, folio)] as Lruvec;
  if (state === ISOLATE_LRU_SPIN || !lv.lock.trylock()) yield* lv.lock.lockContended();
  unlinkIsolated(s, lv, folio);
  return true;
}

/** With `lv.lock` held: the isolated folio leaves its list, then the lock is dropped. */
function unlinkIsolated(s: LruState, lv: Lruvec, folio: Folio): void {
  s.rt.touchKernel(FP_LRU_LIST, lv.nid, true); // off the list: the list and the folio's links
  s.rt.touchKernel(FP_FOLIO, folio, true);
  lv.delFolio(folio, folioNrPages(s.mem, folio));
  lv.lock.unlock();
  s.where[folio] = WHERE_NONE;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
}
