import {
  type Folio,
  folioClearFlag,
  folioFlags,
  folioGet,
  folioNid,
  folioNrPages,
  folioSetFlag,
  folioTestClearFlag,
  folioTestFlag,
  folioTestLarge,
  folioTestSetFlag,
  LRU_MARK_SHIFT,
  PG_active,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
} from '@mmsim/folio';
import { type KernelGen, MmsimError, NodeStat, VmEvent } from '@mmsim/runtime';
import { folioEvictable } from './evictable.js';
import { PAGEVEC_SIZE } from './folio-batch.js';
import { folioPutFast, folioPutSlow } from './folio-put.js';
import { lruListOfFlags } from './lru-list.js';
import { type LruState, requireTask, WHERE_NONE } from './lru-state.js';
import type { Lruvec } from './lruvec.js';
import type { MlockBatch } from './mlock-batch.js';
import { MLOCK_LRU_FOLIO, MLOCK_MUNLOCK, MLOCK_NEW_FOLIO } from './mlock-batch.js';

/*
 * mlock on the LRU side (mm/mlock.c, Linux 6.3, Hugh Dickins' 5.18 rework): PG_mlocked,
 * NR_MLOCK (`nr_mlock`), the per-CPU `mlock_fbatch` and its three kinds of entries, and
 * `folio->mlock_count` of a folio on the unevictable list.
 */

/** `folio->mlock_count`, allocated on the first mlock of a machine. */
export function mlockCounts(s: LruState): Int32Array {
  let counts = s.mlockCount;
  if (counts === null) {
    counts = new Int32Array(s.mem.maxPfn);
    s.mlockCount = counts;
  }
  return counts;
}

function thisBatch(s: LruState): MlockBatch {
  return s.mlockBatches[requireTask(s).cpu.id] as MlockBatch;
}

/** Queues an entry with its reference; true when the kernel would drain the batch now. */
function queue(s: LruState, folio: Folio, kind: number): boolean {
  const b = thisBatch(s);
  folioGet(s.mem, folio);
  b.entries.push(folio * 4 + kind);
  return b.entries.length >= PAGEVEC_SIZE || folioTestLarge(s.mem, folio) || s.disableCount > 0;
}

function checkLive(s: LruState, folio: Folio, fn: string): void {
  if (folio === s.mem.zeroPfn) {
    throw new MmsimError('CONTRACT_VIOLATION', `${fn}: the shared zero page is never mlocked`);
  }
  folioFlags(s.mem, folio); // throws for a freed folio or a tail pfn
}

/**
 * `mlock_folio` (mm/mlock.c, 6.3): set PG_mlocked (the first time: `nr_mlock` and
 * `unevictable_pgs_mlocked` go up by the folio's pages) and queue the folio (with a
 * reference) for `__mlock_folio`. Returns true when the kernel would move the batch now
 * (full, a large folio, or the LRU cache disabled): the caller then runs
 * `mlockDrainLocal`, as soon as it may take `lru_lock`.
 */
export function mlockFolio(s: LruState, folio: Folio): boolean {
  checkLive(s, folio, 'mlock_folio');
  const mem = s.mem;
  if (!folioTestSetFlag(mem, folio, PG_mlocked)) {
    const nr = folioNrPages(mem, folio);
    s.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_MLOCK, nr);
    s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_MLOCKED, nr);
  }
  return queue(s, folio, MLOCK_LRU_FOLIO);
}

/**
 * `mlock_new_folio` (mm/mlock.c, 6.3), `folio_add_lru_vma`'s way for a folio just
 * faulted into a VM_LOCKED VMA: PG_mlocked, `nr_mlock` and `unevictable_pgs_mlocked`,
 * and queue it (with a reference) for `__mlock_new_folio`, which puts it on the
 * unevictable list. Returns true when the batch must be moved now (see `mlockFolio`).
 */
export function mlockNewFolio(s: LruState, folio: Folio): boolean {
  checkLive(s, folio, 'mlock_new_folio');
  const mem = s.mem;
  if (folioTestFlag(mem, folio, PG_lru)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `mlock_new_folio: folio ${folio} is already on the LRU (VM_BUG_ON in folio_add_lru_vma)`,
    );
  }
  folioSetFlag(mem, folio, PG_mlocked);
  const nr = folioNrPages(mem, folio);
  s.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_MLOCK, nr);
  s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_MLOCKED, nr);
  return queue(s, folio, MLOCK_NEW_FOLIO);
}

/**
 * `munlock_folio` (mm/mlock.c, 6.3): queue the folio (with a reference) for
 * `__munlock_folio`; PG_mlocked stays until the batch moves. Returns true when the batch
 * must be moved now (see `mlockFolio`).
 */
export function munlockFolio(s: LruState, folio: Folio): boolean {
  checkLive(s, folio, 'munlock_folio');
  return queue(s, folio, MLOCK_MUNLOCK);
}

/** Takes `lv`'s lock, releasing `held` first if it is another one (`folio_lruvec_relock_irq`). */
function* relock(held: Lruvec | null, lv: Lruvec): KernelGen<Lruvec> {
  if (held === lv) return lv;
  if (held !== null) held.lock.unlock();
  if (!lv.lock.trylock()) yield* lv.lock.lockContended();
  return lv;
}

/** Moves a folio on the LRU to the list its flags now select. */
function moveList(s: LruState, lv: Lruvec, folio: Folio, nr: number): void {
  lv.delFolio(folio, nr);
  lv.addFolio(folio, lruListOfFlags(folioFlags(s.mem, folio)), nr);
}

/**
 * `__mlock_folio` (mm/mlock.c, 6.3): nothing to do for a folio off the LRU (its putback
 * will find it mlocked); an evictable one (PG_mlocked cleared meanwhile) is rescued from
 * the unevictable list if it is there; one already unevictable counts one more
 * `mlock_count`; otherwise it moves to the unevictable list (PG_active cleared,
 * `mlock_count` 1, `unevictable_pgs_culled`).
 */
function* mlockOne(s: LruState, folio: Folio, held: Lruvec | null): KernelGen<Lruvec | null> {
  const mem = s.mem;
  if (!folioTestFlag(mem, folio, PG_lru)) return held;
  const lv = yield* relock(held, s.lruvecs[folioNid(mem, folio)] as Lruvec);
  if (!folioTestFlag(mem, folio, PG_lru) || s.where[folio] !== WHERE_NONE) return lv;
  const nr = folioNrPages(mem, folio);
  if (folioEvictable(s, folio)) {
    if (folioTestClearFlag(mem, folio, PG_unevictable)) {
      moveList(s, lv, folio, nr);
      s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_RESCUED, nr);
    }
    return lv;
  }
  const counts = mlockCounts(s);
  if (folioTestFlag(mem, folio, PG_unevictable)) {
    if (folioTestFlag(mem, folio, PG_mlocked)) counts[folio] = (counts[folio] as number) + 1;
    return lv;
  }
  folioClearFlag(mem, folio, PG_active);
  folioSetFlag(mem, folio, PG_unevictable);
  counts[folio] = folioTestFlag(mem, folio, PG_mlocked) ? 1 : 0;
  moveList(s, lv, folio, nr);
  s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_CULLED, nr);
  return lv;
}

/**
 * `__mlock_new_folio` (mm/mlock.c, 6.3): a new folio goes on the LRU: on the unevictable
 * list (`mlock_count` 1, `unevictable_pgs_culled`) unless it became evictable meanwhile.
 */
function* mlockNewOne(s: LruState, folio: Folio, held: Lruvec | null): KernelGen<Lruvec> {
  const mem = s.mem;
  const lv = yield* relock(held, s.lruvecs[folioNid(mem, folio)] as Lruvec);
  const nr = folioNrPages(mem, folio);
  if (!folioEvictable(s, folio)) {
    folioSetFlag(mem, folio, PG_unevictable);
    mlockCounts(s)[folio] = folioTestFlag(mem, folio, PG_mlocked) ? 1 : 0;
    s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_CULLED, nr);
  }
  lv.addFolio(folio, lruListOfFlags(folioFlags(mem, folio)), nr);
  folioSetFlag(mem, folio, PG_lru);
  return lv;
}

/**
 * `__munlock_folio` (mm/mlock.c, 6.3). A folio on the LRU is taken off it for the step
 * (PG_lru cleared under `lru_lock`); if it is unevictable its `mlock_count` goes down and
 * it stays mlocked while that is not 0. Otherwise PG_mlocked is cleared (`nr_mlock` down):
 * `unevictable_pgs_munlocked`, or `unevictable_pgs_stranded` for a folio that is off the
 * LRU but unevictable (isolated from the unevictable list, for example by migration); an
 * evictable folio on the unevictable list is rescued (`unevictable_pgs_rescued`).
 */
function* munlockOne(s: LruState, folio: Folio, held: Lruvec | null): KernelGen<Lruvec | null> {
  const mem = s.mem;
  let lv = held;
  let isolated = false;
  if (folioTestFlag(mem, folio, PG_lru)) {
    lv = yield* relock(held, s.lruvecs[folioNid(mem, folio)] as Lruvec);
    isolated = folioTestFlag(mem, folio, PG_lru) && s.where[folio] === WHERE_NONE;
  }
  const nr = folioNrPages(mem, folio);
  if (isolated && folioTestFlag(mem, folio, PG_unevictable)) {
    const counts = mlockCounts(s);
    if ((counts[folio] as number) > 0) counts[folio] = (counts[folio] as number) - 1;
    if ((counts[folio] as number) > 0) return lv;
  }
  if (folioTestClearFlag(mem, folio, PG_mlocked)) {
    s.vmstat.modNodePageState(folioNid(mem, folio), NodeStat.NR_MLOCK, -nr);
    if (isolated || !folioTestFlag(mem, folio, PG_unevictable)) {
      s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_MUNLOCKED, nr);
    } else {
      s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_STRANDED, nr);
    }
  }
  if (
    isolated &&
    lv !== null &&
    folioTestFlag(mem, folio, PG_unevictable) &&
    folioEvictable(s, folio)
  ) {
    folioClearFlag(mem, folio, PG_unevictable);
    moveList(s, lv, folio, nr);
    s.vmstat.countVmEvents(VmEvent.UNEVICTABLE_PGS_RESCUED, nr);
  }
  return lv;
}

/**
 * `mlock_folio_batch` (mm/mlock.c, 6.3): run each entry of batch `b` under the
 * `lru_lock` of its folio's node (relocking as the node changes), then drop the batch's
 * references (`release_pages`).
 */
export function* mlockFolioBatch(s: LruState, b: MlockBatch): KernelGen {
  if (b.entries.length === 0) return;
  const list = b.entries;
  b.entries = [];
  b.inFlight.push(list);
  let held: Lruvec | null = null;
  for (const e of list) {
    const folio = Math.floor(e / 4);
    const kind = e - folio * 4;
    if (kind === MLOCK_LRU_FOLIO) held = yield* mlockOne(s, folio, held);
    else if (kind === MLOCK_NEW_FOLIO) held = yield* mlockNewOne(s, folio, held);
    else held = yield* munlockOne(s, folio, held);
  }
  if (held !== null) held.lock.unlock();
  b.inFlight.splice(b.inFlight.indexOf(list), 1);
  const mem = s.mem;
  for (const e of list) {
    const folio = Math.floor(e / 4);
    // No longer pending (`mlockPending`): the LRU check's incremental pass looks again.
    s.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
    if (!folioPutFast(mem, folio, 1)) yield* folioPutSlow(s, folio);
  }
}

/** `mlock_drain_local` (mm/mlock.c, 6.3): move this CPU's `mlock_fbatch`. */
export function* mlockDrainLocal(s: LruState): KernelGen {
  const b = thisBatch(s);
  if (b.entries.length > 0) yield* mlockFolioBatch(s, b);
}

/** `need_mlock_drain(cpu)` (mm/mlock.c, 6.3). */
export function needMlockDrain(s: LruState, cpu: number): boolean {
  return ((s.mlockBatches[cpu] as MlockBatch).entries.length ?? 0) > 0;
}

/** Whether `folio` waits in some CPU's mlock_fbatch for `__mlock_folio` / `__mlock_new_folio`. */
export function mlockPending(s: LruState, folio: Folio): boolean {
  for (const b of s.mlockBatches) {
    if (b.has(folio, MLOCK_LRU_FOLIO) || b.has(folio, MLOCK_NEW_FOLIO)) return true;
  }
  return false;
}

/** Whether `folio` waits in some CPU's mlock_fbatch for `__munlock_folio`. */
export function munlockPending(s: LruState, folio: Folio): boolean {
  for (const b of s.mlockBatches) if (b.has(folio, MLOCK_MUNLOCK)) return true;
  return false;
}
