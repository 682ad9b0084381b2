import {
  FOLIO_TYPE_HUGETLB,
  type Folio,
  folioClearFlag,
  folioGet,
  folioNid,
  folioOnList,
  folioRefCount,
  folioSetFlag,
  folioTestClearFlag,
  folioTestLarge,
  LRU_MARK_SHIFT,
  memmapReader,
  PAGE_MAPPING_MOVABLE,
  PG_active,
  PG_lru,
  PG_unevictable,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, VmEvent } from '@mmsim/runtime';
import { folioEvictable } from './evictable.js';
import { type FolioBatch, PAGEVEC_SIZE } from './folio-batch.js';
import { folioPutFast, releasePages } from './folio-put.js';
import { lruListOfFlags } from './lru-list.js';
import { type LruState, requireTask, WHERE_BATCH, WHERE_NONE } from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import { needMlockDrain } from './mlock.js';
import { lruUncontended, uncontendedLock, uncontendedUnlock } from './uncontended.js';

const LRU = 1 << PG_lru;
const ACTIVE = 1 << PG_active;
const UNEVICTABLE = 1 << PG_unevictable;

function misuse(fn: string, folio: Folio, what: string): MmsimError {
  return new MmsimError('CONTRACT_VIOLATION', `${fn}: folio ${folio} ${what}`);
}

/**
 * The preconditions of `folio_add_lru` (mm/swap.c, 6.3), checked before anything changes:
 * the kernel's VM_BUG_ONs (PG_lru set; PG_active together with PG_unevictable) and what
 * would silently corrupt its lists (the folio already queued in a batch or linked on
 * another list), plus the caller's reference and folios that never go on the LRU.
 */
export function checkAddable(s: LruState, folio: Folio, fn: string): void {
  const mem = s.mem;
  const refs = folioRefCount(mem, folio); // throws for a freed folio or a tail pfn
  if (refs <= 0) {
    throw misuse(fn, folio, 'has refcount 0 (frozen): the caller must hold a reference');
  }
  // `folio` is a live head (the accessor above checked it): its other fields are read
  // through the memmap reader.
  const r = memmapReader(mem);
  const flags = r.flags[folio]!;
  if ((flags & LRU) !== 0) {
    throw misuse(fn, folio, 'has PG_lru set: it is already on an LRU list');
  }
  if (s.where[folio] === WHERE_BATCH) {
    throw misuse(fn, folio, 'is already queued in a per-CPU lru_add batch');
  }
  if (folioOnList(mem, folio) !== null) {
    throw misuse(
      fn,
      folio,
      'is still on a list (an LRU list being isolated, or a private list): list_del it first',
    );
  }
  if ((flags & (ACTIVE | UNEVICTABLE)) === (ACTIVE | UNEVICTABLE)) {
    throw misuse(
      fn,
      folio,
      'has both PG_active and PG_unevictable set (VM_BUG_ON in folio_add_lru)',
    );
  }
  if (folio === mem.zeroPfn) throw misuse(fn, folio, 'is the shared zero page, never on the LRU');
  if (r.folioType[folio] === FOLIO_TYPE_HUGETLB) {
    throw misuse(fn, folio, 'is a hugetlb folio: hugetlb folios are never on the LRU');
  }
  if (r.mappingKind[folio] === PAGE_MAPPING_MOVABLE /* __folio_test_movable */) {
    throw misuse(fn, folio, 'is a non-LRU movable page (__PageMovable): it never goes on the LRU');
  }
}

/**
 * `folio_batch_add` into this CPU's lru_add batch, with the batch's reference (already
 * taken by the caller), and the test of `folio_batch_add_and_move` (mm/swap.c, 6.3):
 * returns true when the batch must be moved to the LRU now: it is full, the folio is
 * large, or the LRU cache is disabled.
 */
export function queueFolio(s: LruState, b: FolioBatch, folio: Folio): boolean {
  if (b.nr >= PAGEVEC_SIZE) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `the lru_add batch of cpu ${b.cpu} is full but was not drained`,
    );
  }
  s.where[folio] = WHERE_BATCH;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return b.add(folio) === 0 || folioTestLarge(s.mem, folio) || s.disableCount > 0;
}

/**
 * `lru_add_fn` (mm/swap.c, Linux 6.3), under `lru_lock`: clear PG_unevictable; an
 * evictable folio that had it counts `unevictable_pgs_rescued`; a folio that is not
 * evictable (`folio_evictable`: mlocked, or an unevictable mapping) loses PG_active, gets
 * PG_unevictable and `mlock_count = 0`, and counts `unevictable_pgs_culled` unless it was
 * unevictable already; then `lruvec_add_folio` at the head of the list its flags select.
 * The caller sets PG_lru afterwards, as `folio_batch_move_lru` does.
 */
function lruAddFn(s: LruState, lv: Lruvec, folio: Folio): void {
  const mem = s.mem;
  const wasUnevictable = folioTestClearFlag(mem, folio, PG_unevictable); // checks the head
  // (A live head, checked just above: its order and flags through the memmap reader.)
  const r = memmapReader(mem);
  const nrPages = 1 << r.order[folio]!;
  if (folioEvictable(s, folio)) {
    if (wasUnevictable) {
      s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_RESCUED, nrPages);
    }
  } else {
    folioClearFlag(mem, folio, PG_active);
    folioSetFlag(mem, folio, PG_unevictable);
    if (s.mlockCount !== null) s.mlockCount[folio] = 0;
    if (!wasUnevictable) {
      s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_CULLED, nrPages);
    }
  }
  const lru = lruListOfFlags(r.flags[folio]!);
  lv.addFolio(folio, lru, nrPages);
  const tp = s.mmLruInsertion;
  if (tp.enabled) tp.emit({ pfn: folio, lru });
}

/**
 * `folio_batch_move_lru(fbatch, lru_add_fn)` (mm/swap.c, Linux 6.3) on CPU batch `b`, whose
 * `lock` the caller holds: every queued folio goes to the lruvec of its own node, taking
 * and switching `lru_lock` as the node changes (`folio_lruvec_relock_irqsave`), gets PG_lru
 * after `lru_add_fn`, and finally the batch references are dropped (`folios_put`).
 */
export function* folioBatchMoveLru(s: LruState, b: FolioBatch): KernelGen {
  const n = b.detach();
  const folios = b.draining as Int32Array;
  const mem = s.mem;
  let held: Lruvec | null = null;
  for (let i = 0; i < n; i++) {
    const folio = folios[i] as number;
    const lv = s.lruvecs[folioNid(mem, folio)] as Lruvec;
    if (lv !== held) {
      if (held !== null) held.lock.unlock();
      held = lv;
      if (!lv.lock.trylock()) yield* lv.lock.lockContended();
    }
    lruAddFn(s, lv, folio);
    folioSetFlag(mem, folio, PG_lru);
    s.where[folio] = WHERE_NONE;
    s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
    b.drainPos = i + 1;
  }
  if (held !== null) held.lock.unlock();
  yield* releasePages(s, folios, n);
  b.finishDrain();
}

/**
 * Whether `drainBatch(s, b)` would run to the end as plain calls, with `extra` (a folio
 * about to be queued with a reference of its caller's, or -1) in the batch: no move of `b`
 * is in flight (its lock is free), every `lru_lock` the move takes is free, and no batch
 * reference it drops is the last one (`folios_put` would take `lru_lock` in
 * `__page_cache_release`). Changes nothing.
 */
export function batchDrainUncontended(s: LruState, b: FolioBatch, extra: Folio): boolean {
  if (b.lock.owner !== null) return false;
  const mem = s.mem;
  const folios = b.folios;
  for (let i = 0; i < b.nr; i++) {
    const folio = folios[i] as number;
    if (folioRefCount(mem, folio) <= 1) return false;
    if ((s.lruvecs[folioNid(mem, folio)] as Lruvec).lock.owner !== null) return false;
  }
  return extra < 0 || (s.lruvecs[folioNid(mem, extra)] as Lruvec).lock.owner === null;
}

/**
 * `drainBatch` (below) when `batchDrainUncontended` holds: the same steps and charges as
 * plain calls (every trylock succeeds, no put is the last one), with no generator.
 */
export function drainBatchUncontended(s: LruState, b: FolioBatch): void {
  // Every lock here is free and held only within this call: taken as its cost unless
  // footprints are recorded (`uncontendedLock`).
  const rt = s.rt;
  const batchLocked = uncontendedLock(rt, b.lock);
  if (b.nr > 0) {
    const n = b.detach();
    const folios = b.draining as Int32Array;
    const mem = s.mem;
    let held: Lruvec | null = null;
    let heldLocked = false;
    for (let i = 0; i < n; i++) {
      const folio = folios[i] as number;
      const lv = s.lruvecs[folioNid(mem, folio)] as Lruvec;
      if (lv !== held) {
        if (held !== null) uncontendedUnlock(held.lock, heldLocked);
        held = lv;
        heldLocked = uncontendedLock(rt, lv.lock);
      }
      lruAddFn(s, lv, folio);
      folioSetFlag(mem, folio, PG_lru);
      s.where[folio] = WHERE_NONE;
      s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
      b.drainPos = i + 1;
    }
    if (held !== null) uncontendedUnlock(held.lock, heldLocked);
    for (let i = 0; i < n; i++) folioPutFast(mem, folios[i] as number, 1);
    b.finishDrain();
  }
  uncontendedUnlock(b.lock, batchLocked);
}

/**
 * `folio_add_lru` (below) as plain calls when nothing in it can spin: queues `folio` (and
 * moves the batch if it must) and returns true; returns false, having changed nothing,
 * when the move it might make could wait for a lock (then call `folioAddLru`).
 */
export function folioAddLruUncontended(s: LruState, folio: Folio): boolean {
  checkAddable(s, folio, 'folioAddLru');
  const b = s.batches[requireTask(s).cpu.id] as FolioBatch;
  if (!lruUncontended.enabled) return false;
  // Queueing alone takes no lock: only the move this add makes (see `queueFolio`) could
  // spin, so the batch is checked only when the add moves it.
  const moves = b.nr + 1 >= PAGEVEC_SIZE || folioTestLarge(s.mem, folio) || s.disableCount > 0;
  if (moves && !batchDrainUncontended(s, b, folio)) return false;
  lruUncontended.adds++;
  folioGet(s.mem, folio);
  if (queueFolio(s, b, folio)) drainBatchUncontended(s, b);
  return true;
}

/**
 * `folio_add_lru(folio)` followed at once by `lru_add_drain()` (mm/swap.c, Linux 6.3; the
 * pair `migrate_folio_move` makes for dst) as plain calls, when this CPU's lru_add batch is
 * empty: the drain then moves exactly `folio`, so the folio goes straight to its lruvec
 * with the same steps, locks and charges as the queue-then-move of the two calls (the
 * batch's lock, then `lru_lock`, `lru_add_fn`, PG_lru, the batch reference taken and
 * dropped). Returns false, having changed nothing, unless the batch is empty and no move of
 * it is in flight, this CPU's mlock batch is empty and the folio's `lru_lock` is free (then
 * run `folioAddLruUncontended` / `folioAddLru` and `lruAddDrainUncontended` /
 * `lruAddDrain`). The preconditions of `folio_add_lru` are checked first, as there.
 */
export function folioAddLruDrainUncontended(s: LruState, folio: Folio): boolean {
  checkAddable(s, folio, 'folioAddLru');
  const cpu = requireTask(s).cpu.id;
  const b = s.batches[cpu] as FolioBatch;
  if (!lruUncontended.enabled || !lruUncontended.addDrain) return false;
  if (b.nr !== 0 || b.lock.owner !== null) return false;
  if (needMlockDrain(s, cpu)) return false;
  const mem = s.mem;
  // (`checkAddable` found a live head: its node through the memmap reader.)
  const lv = s.lruvecs[memmapReader(mem).nid[folio]!] as Lruvec;
  if (lv.lock.owner !== null) return false;
  // Counted as a plain-call add and a plain-call drain, and as their fusion.
  lruUncontended.adds++;
  lruUncontended.drains++;
  lruUncontended.addDrains++;
  folioGet(mem, folio); // the batch's reference
  // Both locks are free and held only within this call: taken as their cost unless
  // footprints are recorded (`uncontendedLock`).
  const rt = s.rt;
  const batchLocked = uncontendedLock(rt, b.lock);
  const lruLocked = uncontendedLock(rt, lv.lock);
  lruAddFn(s, lv, folio);
  folioSetFlag(mem, folio, PG_lru);
  s.where[folio] = WHERE_NONE;
  s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  uncontendedUnlock(lv.lock, lruLocked);
  folioPutFast(mem, folio, 1); // the caller's reference remains
  uncontendedUnlock(b.lock, batchLocked);
  return true;
}

/**
 * Moves CPU batch `b` to the LRU, from its own CPU or from another: takes the batch's lock
 * (waiting for a move already in flight, which a drainer must see finished, as
 * `flush_work` guarantees) and runs `folio_batch_move_lru`.
 */
export function* drainBatch(s: LruState, b: FolioBatch): KernelGen {
  if (!b.lock.trylock()) yield* b.lock.lockContended();
  if (b.nr > 0) yield* folioBatchMoveLru(s, b);
  b.lock.unlock();
}

/**
 * `folio_add_lru` (mm/swap.c, Linux 6.3): take a reference for this CPU's lru_add batch and
 * queue the folio; the batch moves to the LRU when it becomes full (PAGEVEC_SIZE = 15),
 * when the folio is large, or while `lru_cache_disable` is in force. Until then the folio
 * is on no list and has PG_lru clear, so `folio_isolate_lru` fails on it. The choice of
 * active or inactive list waits for the move (`lru_add_fn`).
 */
export function* folioAddLru(s: LruState, folio: Folio): KernelGen {
  checkAddable(s, folio, 'folioAddLru');
  const b = s.batches[requireTask(s).cpu.id] as FolioBatch;
  folioGet(s.mem, folio);
  if (queueFolio(s, b, folio)) yield* drainBatch(s, b);
}
