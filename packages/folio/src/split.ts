import { EAGAIN, EBUSY, MmsimError } from '@mmsim/runtime';
import {
  PG_active,
  PG_anon_exclusive,
  PG_dirty,
  PG_head,
  PG_hwpoison,
  PG_idle,
  PG_locked,
  PG_lru,
  PG_mlocked,
  PG_private,
  PG_referenced,
  PG_swapbacked,
  PG_swapcache,
  PG_unevictable,
  PG_uptodate,
  PG_workingset,
  PG_writeback,
  PG_young,
} from './flags.js';
import { FolioList } from './folio-list.js';
import { freeFolio } from './free-folio.js';
import { PAGE_MAPPING_ANON, PAGE_MAPPING_KSM, PAGE_MAPPING_MOVABLE } from './mapping.js';
import {
  checkFolio,
  FOLIO_TYPE_HUGETLB,
  FOLIO_TYPE_NORMAL,
  type Folio,
  FRAME_HEAD,
  getMappingObj,
  listOwnerOf,
  markWrittenRange,
  memmapOf,
  type PhysicalMemory,
  setMappingObj,
  setPriv,
} from './memmap.js';

/**
 * Head flags that `__split_huge_page_tail` (mm/huge_memory.c, Linux 6.3) copies to every
 * tail: referenced, swapbacked, swapcache, mlocked, uptodate, active, workingset, locked,
 * unevictable, dirty (PG_arch_2/3 too, which x86 does not have), plus young and idle,
 * which it copies with set_page_young / set_page_idle. PG_locked is left out here because
 * the tails are unlocked again before the split returns.
 */
const TAIL_COPY_FLAGS =
  (1 << PG_referenced) |
  (1 << PG_swapbacked) |
  (1 << PG_swapcache) |
  (1 << PG_mlocked) |
  (1 << PG_uptodate) |
  (1 << PG_active) |
  (1 << PG_workingset) |
  (1 << PG_unevictable) |
  (1 << PG_dirty) |
  (1 << PG_young) |
  (1 << PG_idle);

/**
 * Splits a large folio into order-0 folios: a model of `split_huge_page_to_list` /
 * `split_folio_to_list` (Linux 6.3) at the folio level.
 *
 * Preconditions (misuse throws and changes nothing): the folio is large, not hugetlb, not a
 * non-LRU movable page, locked (PG_locked), and not mapped by a PMD (entire mapcount 0: the
 * rmap layer splits PMD mappings first, which the kernel's unmap_folio does itself).
 *
 * Kernel-style failures (nothing changes): -EBUSY under writeback, for an anonymous folio
 * that is not mapped (folio_get_anon_vma finds no anon_vma) or is KSM, for a file folio
 * with no mapping (truncated) or with PG_private (the model cannot release buffers; detach
 * them first); -EAGAIN when `can_split_folio` fails, i.e. the refcount is not
 * 1 + mapcount + (page cache or swap cache ? nr_pages : 0): somebody holds an extra pin.
 *
 * On success (returns 0) every page becomes an order-0 folio keeping its content word,
 * its own mapcount and its per-page PG_hwpoison (and PG_anon_exclusive when it is a mapped
 * anonymous page); tails get the head's mapping, index = head index + i, and the copied
 * flags. Each new folio holds 1 + its mapcount + (cached ? 1 : 0) references. With `list`
 * (the folio was isolated) the tails are added to the tail of `list` from the last pfn down
 * to the first tail, the order of the kernel's `for (i = nr - 1; i >= 1; i--)` loop, each
 * holding 1 caller reference. Without `list`, a tail's caller reference is dropped after
 * the split (tails that nothing else holds are freed, in pfn order), and the surviving tails
 * go just before the head on the head's list, if it is on one, with PG_lru when the head
 * has it (`lru_add_page_tail`; an unevictable tail is not put on a list). Tails come out
 * unlocked; the head stays locked and stays where it was. Pages beyond EOF are not dropped
 * (the model has no i_size). The page cache's `i_pages` is not this layer's: a caller that
 * splits a page-cache folio stores the pieces at their indices right after (the
 * `xas_split` / `__xa_store` part of 6.3's split; rmap's `pageCacheSplitFolio`).
 */
export function splitFolio(mem: PhysicalMemory, folio: Folio, list?: FolioList): number {
  const m = memmapOf(mem);
  checkFolio(m, folio);
  if (list !== undefined && (!(list instanceof FolioList) || memmapOf(list.mem) !== m)) {
    throw new MmsimError('INVALID_ARGUMENT', 'list must be a FolioList of the same PhysicalMemory');
  }
  const order = m.order[folio]!;
  if (order === 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folio ${folio} is order 0: there is nothing to split`,
    );
  }
  if (m.folioType[folio] === FOLIO_TYPE_HUGETLB) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folio ${folio} is a hugetlb folio, which is never split`,
    );
  }
  const kind = m.mappingKind[folio]!;
  if (kind === PAGE_MAPPING_MOVABLE) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `folio ${folio} is a non-LRU movable page, which cannot be split`,
    );
  }
  const flags = m.flags[folio]!;
  if ((flags & (1 << PG_locked)) === 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `splitFolio: folio ${folio} must be locked (PG_locked) by the caller`,
    );
  }
  const entire = m.entireMapcount[folio]!;
  if (entire !== 0) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `splitFolio: folio ${folio} is mapped by ${entire} PMD(s): split the PMD mappings first`,
    );
  }
  if ((flags & (1 << PG_writeback)) !== 0) return -EBUSY;
  const nr = 1 << order;
  const total = m.totalMapcount[folio]!;
  const anon = (kind & PAGE_MAPPING_ANON) !== 0;
  const swapcache = (flags & (1 << PG_swapbacked)) !== 0 && (flags & (1 << PG_swapcache)) !== 0;
  let extraPins: number;
  if (anon) {
    if (kind === PAGE_MAPPING_KSM || total === 0) return -EBUSY;
    extraPins = swapcache ? nr : 0;
  } else {
    if (m.mappingId[folio] === 0) return -EBUSY;
    if ((flags & (1 << PG_private)) !== 0) return -EBUSY;
    extraPins = nr;
  }
  if (m.refcount[folio] !== 1 + total + extraPins) return -EAGAIN;

  // Everything is checked: from here on nothing throws.
  markWrittenRange(m, folio, nr);
  const cached = !anon || swapcache ? 1 : 0;
  const copy = flags & TAIL_COPY_FLAGS;
  const headLru = (flags & (1 << PG_lru)) !== 0;
  const headList = listOwnerOf(m, folio);
  const obj = getMappingObj(m, folio);
  const index = m.index[folio]!;
  for (let i = nr - 1; i >= 1; i--) {
    const p = folio + i;
    const own = m.flags[p]!;
    const mapcount = m.mapcount[p]!;
    let f = copy | (own & (1 << PG_hwpoison));
    if (anon && mapcount > 0) f |= own & (1 << PG_anon_exclusive);
    m.state[p] = FRAME_HEAD;
    m.order[p] = 0;
    m.headOf[p] = p;
    m.folioType[p] = FOLIO_TYPE_NORMAL;
    m.mappingKind[p] = kind;
    setMappingObj(m, p, obj);
    m.index[p] = index + i;
    if (!swapcache) setPriv(m, p, null);
    m.entireMapcount[p] = 0;
    m.totalMapcount[p] = mapcount;
    if (list !== undefined) {
      m.flags[p] = f;
      m.refcount[p] = 1 + mapcount + cached;
      list.addTail(p);
    } else {
      const refs = mapcount + cached;
      m.refcount[p] = refs;
      if (refs > 0 && headLru) f |= 1 << PG_lru;
      m.flags[p] = f;
      if (refs > 0 && headList !== null && !(headLru && (f & (1 << PG_unevictable)) !== 0)) {
        headList.addBefore(p, folio);
      }
    }
  }
  m.flags[folio] = flags & ~(1 << PG_head);
  m.order[folio] = 0;
  m.totalMapcount[folio] = m.mapcount[folio]!;
  m.refcount[folio] = 1 + cached + m.mapcount[folio]!;
  if (list === undefined) {
    for (let p = folio + 1; p < folio + nr; p++) {
      if (m.state[p] === FRAME_HEAD && m.refcount[p] === 0) freeFolio(m, p);
    }
  }
  return 0;
}
