import { checkInt, MmsimError } from '@mmsim/runtime';
import { badPageError, badPageReason, freeFolio } from './free-folio.js';
import {
  type Folio,
  FRAME_HEAD,
  folioError,
  frameIsFree,
  LRU_MARK_SHIFT,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
} from './memmap.js';

/**
 * Folio reference counts (include/linux/page_ref.h and mm.h, Linux 6.3). The count is an
 * Int32Array entry of the head. All operations are atomic by construction (plain calls).
 * Dropping the last reference frees the folio.
 */

const REF_MAX = 0x7fffffff;

function overflow(folio: number): MmsimError {
  return new MmsimError(
    'CONTRACT_VIOLATION',
    `folio ${folio}: refcount would overflow 2^31 - 1 (a reference leak?)`,
  );
}

function underflow(folio: number, have: number, drop: number): MmsimError {
  return new MmsimError(
    'COUNT_UNDERFLOW',
    have === 0
      ? `folio ${folio}: refcount is 0 (frozen by folioRefFreeze): it cannot drop ${drop} more`
      : `folio ${folio}: refcount ${have} cannot drop ${drop}: a reference was put that was never taken`,
  );
}

/** `folio_ref_count`. */
export function folioRefCount(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.refcount[folio]!;
}

/**
 * `folio_get`: take a reference on a folio the caller already knows to be live. A folio at
 * refcount 0 (frozen) may not be got this way; speculative callers use `folioTryGet`.
 */
export function folioGet(mem: PhysicalMemory, folio: Folio): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  const r = m.refcount[folio]!;
  if (r <= 0 || r >= REF_MAX) {
    if (r >= REF_MAX) throw overflow(folio);
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioGet on folio ${folio} at refcount 0 (frozen): use folioTryGet, which fails instead`,
    );
  }
  m.refcount[folio] = r + 1;
}

/**
 * `folio_try_get` (`get_page_unless_zero`): take a reference unless the count is 0. A frame
 * that is already free reads as refcount 0 and fails too, as a speculative lookup (a pfn
 * scanner, a lockless page-cache walk) sees a freed page in the kernel.
 */
export function folioTryGet(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) {
    if (Number.isInteger(folio) && folio >= 0 && folio < m.maxPfn && frameIsFree(m, folio)) {
      return false;
    }
    throw folioError(m, folio);
  }
  const r = m.refcount[folio]!;
  if (r === 0) return false;
  if (r >= REF_MAX) throw overflow(folio);
  m.refcount[folio] = r + 1;
  return true;
}

/**
 * Throws unless dropping `drop` references from `have` may free `folio` now: no underflow,
 * not the zero page, no bad page state (ignoring `ignoreFlags`, which the caller clears).
 */
export function checkLastPut(
  m: Memmap,
  folio: number,
  have: number,
  drop: number,
  ignoreFlags = 0,
): void {
  if (have < drop) throw underflow(folio, have, drop);
  if (folio === m.zeroPfn) {
    throw new MmsimError(
      'COUNT_UNDERFLOW',
      `folio ${folio} is the shared zero page: its base reference is never dropped`,
    );
  }
  const reason = badPageReason(m, folio, ignoreFlags);
  if (reason !== null) throw badPageError(m, folio, reason);
}

function putLast(m: Memmap, folio: number, have: number, drop: number): void {
  checkLastPut(m, folio, have, drop);
  freeFolio(m, folio);
}

/**
 * `folio_put` of a folio that is on no LRU list: drop a reference; the last one frees the
 * folio to the buddy of its node, or to its node's hugetlb pool. Freeing a folio that is
 * still mapped, locked, under writeback, on a list, in the page cache, or has another
 * PAGE_FLAGS_CHECK_AT_FREE flag throws CONTRACT_VIOLATION ("bad page state") and changes
 * nothing. A folio that may be on the LRU is put through `@mmsim/lru` (`folioPutFast`,
 * then `LruIsolation.folioPut`), which takes it off its list first and then calls this.
 */
export function folioPut(mem: PhysicalMemory, folio: Folio): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio, true);
  const r = m.refcount[folio]!;
  if (r > 1) {
    m.refcount[folio] = r - 1;
    m.rmapWritten[folio] = 1;
    return;
  }
  putLast(m, folio, r, 1);
}

/** `folio_put_refs`: drop `refs` references at once, freeing the folio if they were the last. */
export function folioPutRefs(mem: PhysicalMemory, folio: Folio, refs: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio, true);
  checkInt('refs', refs, 1, REF_MAX);
  const r = m.refcount[folio]!;
  if (r > refs) {
    m.refcount[folio] = r - refs;
    m.rmapWritten[folio] = 1;
    return;
  }
  putLast(m, folio, r, refs);
}

/** `folio_ref_add`: add `nr` references (also valid on a frozen folio, as the kernel's is). */
export function folioRefAdd(mem: PhysicalMemory, folio: Folio, nr: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  checkInt('nr', nr, 0, REF_MAX);
  const r = m.refcount[folio]!;
  if (r + nr > REF_MAX) throw overflow(folio);
  m.refcount[folio] = r + nr;
  // Out of 0 (a frozen folio given references back): the LRU check tests refcount 0.
  if (r === 0) m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
}

/**
 * `folio_ref_sub`: drop `nr` references that are known not to be the last. Reaching 0 this
 * way would leak the folio, so it throws; use `folioPutRefs` when the count may reach 0.
 */
export function folioRefSub(mem: PhysicalMemory, folio: Folio, nr: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  checkInt('nr', nr, 0, REF_MAX);
  const r = m.refcount[folio]!;
  if (r < nr) throw underflow(folio, r, nr);
  if (r === nr && nr > 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioRefSub(${nr}) would drop the last reference of folio ${folio} without freeing it: use folioPutRefs`,
    );
  }
  m.refcount[folio] = r - nr;
  m.rmapWritten[folio] = 1;
}

/**
 * `folio_ref_freeze`: if the count is exactly `count`, set it to 0 and return true (a
 * compare-and-exchange); otherwise change nothing and return false. While frozen,
 * `folioTryGet` fails, so nobody new can take a reference.
 */
export function folioRefFreeze(mem: PhysicalMemory, folio: Folio, count: number): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  checkInt('count', count, 1, REF_MAX);
  if (m.refcount[folio] !== count) return false;
  m.refcount[folio] = 0;
  m.rmapWritten[folio] = 1;
  m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
  return true;
}

/** `folio_ref_unfreeze`: set the count of a frozen folio (count 0) to `count`. */
export function folioRefUnfreeze(mem: PhysicalMemory, folio: Folio, count: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  checkInt('count', count, 1, REF_MAX);
  if (m.refcount[folio] !== 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioRefUnfreeze on folio ${folio}, which is not frozen (refcount ${m.refcount[folio]})`,
    );
  }
  m.refcount[folio] = count;
  m.lruWritten[folio >>> LRU_MARK_SHIFT] = 1;
}
