import { MmsimError } from '@mmsim/runtime';
import { PG_private } from './flags.js';
import { freeFolio } from './free-folio.js';
import {
  checkPage,
  type Folio,
  FRAME_HEAD,
  folioError,
  getPriv,
  memmapOf,
  type PhysicalMemory,
  setPriv,
} from './memmap.js';
import { checkLastPut } from './refcount.js';

/**
 * `folio->private` (include/linux/pagemap.h, Linux 6.3): buffer heads or other filesystem
 * data when PG_private is set, the swap entry of a swap-cache folio, hugetlb data. The
 * model keeps one value per page in a plain array; the folio's value is the head's.
 */

/** `folio_get_private`: the head's private value (null when none). */
export function folioGetPrivate(mem: PhysicalMemory, folio: Folio): unknown {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return getPriv(m, folio);
}

/**
 * Stores a raw private value without PG_private or a reference (`folio->private = v`, as
 * the swap cache stores the swap entry). Use `folioAttachPrivate` for filesystem data.
 */
export function folioSetPrivate(mem: PhysicalMemory, folio: Folio, value: unknown): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  setPriv(m, folio, value);
}

/**
 * `folio_attach_private`: attach filesystem data, set PG_private, and take the reference
 * that the data holds on the folio (the +1 of `folio_expected_refs`).
 */
export function folioAttachPrivate(mem: PhysicalMemory, folio: Folio, data: unknown): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (data === null || data === undefined) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'folioAttachPrivate needs data (not null or undefined)',
    );
  }
  if ((m.flags[folio]! & (1 << PG_private)) !== 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folio ${folio} already has private data (PG_private): detach it first`,
    );
  }
  const r = m.refcount[folio]!;
  if (r <= 0 || r >= 0x7fffffff) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `folioAttachPrivate on folio ${folio} at refcount ${r}: the folio must be held and not frozen`,
    );
  }
  setPriv(m, folio, data);
  m.flags[folio]! |= 1 << PG_private;
  m.refcount[folio] = r + 1;
}

/**
 * `folio_detach_private`: clear PG_private and the data, drop the data's reference, and
 * return the data; returns null (changing nothing) when PG_private is clear. If that was the
 * last reference the folio is freed, with the usual bad-page checks made first.
 */
export function folioDetachPrivate(mem: PhysicalMemory, folio: Folio): unknown {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if ((m.flags[folio]! & (1 << PG_private)) === 0) return null;
  const r = m.refcount[folio]!;
  if (r <= 1) checkLastPut(m, folio, r, 1, 1 << PG_private);
  const data = getPriv(m, folio);
  m.flags[folio]! &= ~(1 << PG_private);
  setPriv(m, folio, null);
  if (r > 1) {
    m.refcount[folio] = r - 1;
    m.rmapWritten[folio] = 1;
  } else freeFolio(m, folio);
  return data;
}

/** `page_private` of one page of a live folio (the swap cache keeps one entry per subpage). */
export function pagePrivate(mem: PhysicalMemory, pfn: number): unknown {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  return getPriv(m, pfn);
}

/** `set_page_private` on one page of a live folio, as `add_to_swap_cache` does per subpage. */
export function setPagePrivate(mem: PhysicalMemory, pfn: number, value: unknown): void {
  const m = memmapOf(mem);
  checkPage(m, pfn);
  setPriv(m, pfn, value);
}
