import {
  type Folio,
  folioGet,
  folioNid,
  folioNrPages,
  folioRefCount,
  folioTestClearFlag,
  PG_lru,
} from '@mmsim/folio';
import { FP_FOLIO, FP_LRU_LIST, type KernelGen, MmsimError } from '@mmsim/runtime';
import { type LruState, requireTask, WHERE_ISOLATING, WHERE_NONE } from './lru-state.js';
import type { Lruvec } from './lruvec.js';

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
  const mem = s.mem;
  if (folioRefCount(mem, folio) === 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioIsolateLru: folio ${folio} has refcount 0; the caller must hold a reference (VM_BUG_ON_FOLIO in folio_isolate_lru)`,
    );
  }
  requireTask(s);
  s.rt.touchKernel(FP_FOLIO, folio, true); // PG_lru test-and-clear, the isolation reference
  if (!folioTestClearFlag(mem, folio, PG_lru)) return false;
  folioGet(mem, folio);
  s.where[folio] = WHERE_ISOLATING;
  // The window before lru_lock: a real scheduling round, or a virtual step when no other
  // task can run there (the same step count and replay token, no suspension).
  if (!s.rt.virtualStep()) yield;
  const lv = s.lruvecs[folioNid(mem, folio)] as Lruvec;
  if (!lv.lock.trylock()) yield* lv.lock.lockContended();
  s.rt.touchKernel(FP_LRU_LIST, lv.nid, true); // off the list: the list and the folio's links
  s.rt.touchKernel(FP_FOLIO, folio, true);
  lv.delFolio(folio, folioNrPages(mem, folio));
  lv.lock.unlock();
  s.where[folio] = WHERE_NONE;
  return true;
}
