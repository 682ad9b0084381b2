import {
  type Folio,
  folioGet,
  folioIndex,
  folioMapcount,
  folioMappingKind,
  folioRawMapping,
  folioRefCount,
  folioSetMapping,
  folioTestAnon,
  folioTestFlag,
  folioTestKsm,
  folioTestLarge,
  folioTestSwapcache,
  PAGE_MAPPING_KSM,
  PG_anon_exclusive,
  PG_locked,
  type PhysicalMemory,
  pageContent,
  pageTestFlag,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { EINVAL, ENOMEM, type KernelGen, MmsimError } from '@mmsim/runtime';
import { type AnonVma, anonVmaLockRead, getAnonVma, putAnonVma } from './anon-vma.js';
import {
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_UNSHARE,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  PAGE_SIZE,
  RMAP_NONE,
  TASK_SIZE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_IO,
  VM_MAYSHARE,
  VM_SHARED,
} from './constants.js';
import { pageTryShareAnonRmap } from './dma-pinned.js';
import { handleMmFault } from './fault.js';
import { folioPutRefsFast, folioPutRefsSlow } from './folio-release.js';
import { migrationEntryWait } from './migration-entry-wait.js';
import type { Mm } from './mm.js';
import { splitVma } from './munmap.js';
import { pmdIndexOfVpn, vpnOf } from './page-table.js';
import {
  isMigrationEntry,
  mkPte,
  PTE_YOUNG,
  pteDirty,
  pteMkclean,
  ptePfn,
  ptePresent,
  pteProtnone,
  pteWrite,
  pteWrprotect,
} from './pte.js';
import type { VmaView } from './readonly-views.js';
import { folioMarkDirty, pageAddAnonRmap, pageRemoveRmap } from './rmap-accounting.js';
import type { RmapState } from './rmap-state.js';
import type { RmapWalkControl } from './rmap-walk.js';
import { flushTlbPage } from './tlb.js';
import type { Vma } from './vma.js';
import { type VmaPageRange, vmaAddress } from './vma-address.js';

/**
 * Kernel samepage merging (mm/ksm.c, Linux 6.3): `madvise(MADV_MERGEABLE)` registers an
 * mm with ksmd; ksmd scans the mergeable anonymous pages of the registered mms, keeps
 * candidates in an unstable tree keyed by content (rebuilt at each full scan), and merges
 * pages with equal content into one write-protected KSM page, tracked by a stable node
 * (`folio->mapping` = stable node | PAGE_MAPPING_KSM) that lists one rmap_item per mapping.
 * A write to a KSM page faults and copies it (`do_wp_page` never reuses a KSM page);
 * MADV_UNMERGEABLE breaks every KSM mapping of the range with an unsharing fault.
 *
 * Modelled with the model's content words: a page's content is its word, `memcmp_pages`
 * compares words, `calc_checksum` is the word itself. The trees are keyed by that word (an
 * rb-tree ordered by `memcmp` finds the same page). Not modelled: `max_page_sharing`
 * (stable node chains and dups), `merge_across_nodes = 0` (per-node trees, the
 * migrate_nodes list), `use_zero_pages`, large folios (ksmd skips them instead of splitting
 * them), VM_LOCKED (`munlock_vma_page` / `mlock_vma_page` in `try_to_merge_one_page`),
 * swap (`ksm_might_need_to_copy`), `ksm_fork` (a child is registered at its own madvise or
 * not at all; forked KSM mappings are still found by `rmap_walk_ksm`'s second pass),
 * KSM_RUN_UNMERGE, memory hotremove.
 */

/** `VM_MERGEABLE` (include/linux/mm.h, 6.3: bit 31). */
export const VM_MERGEABLE = 0x8000_0000;
/** The flags ksm_madvise refuses to merge (6.3: VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | ...). */
const KSM_REFUSED_FLAGS = VM_SHARED | VM_MAYSHARE | VM_IO;

/**
 * `struct ksm_stable_node` (mm/ksm.c, 6.3): one KSM page in the stable tree. `kpfn` is the
 * pfn of the KSM folio (moved by `folio_migrate_ksm`), `hlist` the rmap_items of the
 * mappings merged into it, newest first (`hlist_add_head`).
 */
export class KsmStableNode {
  readonly id: number;
  /** `kpfn`: the KSM folio. */
  kpfn: number;
  /** `hlist`: one rmap_item per merged mapping, newest first. */
  readonly hlist: KsmRmapItem[] = [];
  /** The content word it was inserted under (its place in the stable tree). */
  readonly content: number;
  /** Still in the stable tree (false once `remove_node_from_stable_tree` ran). */
  inTree = true;

  constructor(id: number, kpfn: number, content: number) {
    this.id = id;
    this.kpfn = kpfn;
    this.content = content;
  }

  toString(): string {
    return `stable_node ${this.id}`;
  }
}

/**
 * The NULL stable node of `set_page_stable_node(page, NULL)`: a KSM page not yet in the
 * stable tree (`try_to_merge_one_page` with no kpage) or one that migration left behind
 * (`folio_migrate_ksm`). Its mapping still says PAGE_MAPPING_KSM.
 */
export const KSM_NO_STABLE_NODE: object = Object.freeze({ toString: () => 'stable_node NULL' });

/** Where an rmap_item is: `address & (UNSTABLE_FLAG | STABLE_FLAG)`. */
export type KsmRmapItemState = 'none' | 'unstable' | 'stable';

/**
 * `struct ksm_rmap_item` (mm/ksm.c, 6.3): one scanned virtual page of an mm. In the stable
 * tree it is on its node's `hlist` with the anon_vma of its VMA (a reference, so that
 * `rmap_walk_ksm` can lock it); in the unstable tree it carries the scan's `seqnr`.
 */
export class KsmRmapItem {
  readonly mm: Mm;
  readonly address: number;
  state: KsmRmapItemState = 'none';
  /** `oldchecksum`: NaN before the first checksum (jhash of a page is never the initial 0). */
  oldchecksum = Number.NaN;
  /** `head`: the stable node (stable items). */
  head: KsmStableNode | null = null;
  /** `anon_vma` (stable items, a reference). */
  anonVma: AnonVma | null = null;
  /** The scan's `seqnr` when it entered the unstable tree. */
  seqnr = 0;

  constructor(mm: Mm, address: number) {
    this.mm = mm;
    this.address = address;
  }
}

/** `struct ksm_mm_slot`: a registered mm and its rmap_items, sorted by address. */
export class KsmMmSlot {
  readonly mm: Mm;
  readonly items: KsmRmapItem[] = [];
  constructor(mm: Mm) {
    this.mm = mm;
  }
}

/** The /sys/kernel/mm/ksm counters (6.3 names). */
export interface KsmStats {
  /** `pages_shared`: stable nodes with at least one mapping. */
  readonly pagesShared: number;
  /** `pages_sharing`: mappings beyond the first of each stable node (the saving). */
  readonly pagesSharing: number;
  /** `pages_unshared`: rmap_items in the unstable tree. */
  readonly pagesUnshared: number;
  /** `full_scans` (`ksm_scan.seqnr`). */
  readonly fullScans: number;
  /** Stable nodes in the stable tree. */
  readonly stableNodes: number;
}

/** KSM's global state: mm slots, trees, scan cursor, counters. */
export class KsmState {
  /** `ksm_mm_head`'s list, in scan order. */
  readonly slots: KsmMmSlot[] = [];
  readonly slotOf = new Map<Mm, KsmMmSlot>();
  /** `root_stable_tree` (one tree: merge_across_nodes = 1), by content word. */
  readonly stableTree = new Map<number, KsmStableNode>();
  /** `root_unstable_tree`, by content word; emptied at each full scan. */
  readonly unstableTree = new Map<number, KsmRmapItem>();
  /** `ksm_scan.mm_slot`: null is `ksm_mm_head` (between full scans). */
  cursor: KsmMmSlot | null = null;
  /** `ksm_scan.address`. */
  address = 0;
  /** Index in `cursor.items` of `ksm_scan.rmap_list`. */
  listPos = 0;
  /** `ksm_scan.seqnr` (full_scans). */
  seqnr = 0;
  pagesShared = 0;
  pagesSharing = 0;
  pagesUnshared = 0;
  nodeIds = 0;
  /**
   * Mappings of a KSM page that ksmd has installed and not yet added to a stable node's
   * hlist (between `try_to_merge_one_page` and `stable_tree_append`, which takes the KSM
   * page's lock and may sleep): the invariants accept them.
   */
  readonly pending: { mm: Mm; address: number }[] = [];
}

/** The KSM state of a machine, created on first use. */
export function ksmState(ctx: RmapState): KsmState {
  let s = ctx.ksm;
  if (s === null) {
    s = new KsmState();
    ctx.ksm = s;
  }
  return s;
}

/** `folio_stable_node(folio)`: the stable node of a KSM folio, or null. */
export function folioStableNode(mem: PhysicalMemory, folio: Folio): KsmStableNode | null {
  if (folioMappingKind(mem, folio) !== PAGE_MAPPING_KSM) return null;
  const obj = folioRawMapping(mem, folio);
  return obj instanceof KsmStableNode ? obj : null;
}

function removePending(s: KsmState, mm: Mm, address: number): void {
  const i = s.pending.findIndex((p) => p.mm === mm && p.address === address);
  if (i >= 0) s.pending.splice(i, 1);
}

function* folioLock(ctx: RmapState, folio: Folio, caller: string): KernelGen {
  if (!ctx.locks.folioLockFast(folio, caller)) yield* ctx.locks.folioLockContended(folio, caller);
}

function* putFolio(ctx: RmapState, folio: Folio): KernelGen {
  if (!folioPutRefsFast(ctx, folio, 1)) yield* folioPutRefsSlow(ctx, folio, 1);
}

/**
 * `remove_node_from_stable_tree(stable_node)` (mm/ksm.c, 6.3): a stale node leaves the
 * stable tree; its rmap_items lose their place (counters down, anon_vma references put).
 */
function removeNodeFromStableTree(ctx: RmapState, s: KsmState, node: KsmStableNode): void {
  for (let i = 0; i < node.hlist.length; i++) {
    const item = node.hlist[i]!;
    if (i < node.hlist.length - 1) s.pagesSharing--;
    else s.pagesShared--;
    if (item.anonVma !== null) putAnonVma(ctx, item.anonVma);
    item.anonVma = null;
    item.head = null;
    item.state = 'none';
  }
  node.hlist.length = 0;
  if (s.stableTree.get(node.content) === node) s.stableTree.delete(node.content);
  node.inTree = false;
}

/**
 * `get_ksm_page(stable_node, flags)` (mm/ksm.c, 6.3) with GET_KSM_PAGE_NOLOCK: a reference
 * on the node's KSM folio, or null when the node is stale (the folio at `kpfn` is no longer
 * a KSM folio of this node: freed, reused, or left behind by migration), in which case the
 * node is removed from the stable tree.
 */
function getKsmPage(ctx: RmapState, s: KsmState, node: KsmStableNode): Folio | null {
  const mem = ctx.mem;
  const kpfn = node.kpfn;
  if (
    pfnValid(mem, kpfn) &&
    pfnFolio(mem, kpfn) === kpfn &&
    folioRefCount(mem, kpfn) > 0 &&
    folioMappingKind(mem, kpfn) === PAGE_MAPPING_KSM &&
    folioRawMapping(mem, kpfn) === node
  ) {
    folioGet(mem, kpfn);
    return kpfn;
  }
  removeNodeFromStableTree(ctx, s, node);
  return null;
}

/**
 * `remove_rmap_item_from_tree(rmap_item)` (mm/ksm.c, 6.3): a stable item leaves its node's
 * hlist under the KSM page's lock (`get_ksm_page(GET_KSM_PAGE_LOCK)`; a stale node is
 * removed whole instead), its anon_vma reference is put; an unstable item leaves the
 * unstable tree (if it is in this scan's tree).
 */
function* removeRmapItemFromTree(ctx: RmapState, s: KsmState, item: KsmRmapItem): KernelGen {
  if (item.state === 'stable') {
    const node = item.head!;
    const kpage = getKsmPage(ctx, s, node);
    if (kpage !== null) {
      yield* folioLock(ctx, kpage, 'remove_rmap_item_from_tree');
      // The node may have gone stale while this task slept on the lock.
      if (item.state === 'stable' && item.head === node) {
        const i = node.hlist.indexOf(item);
        if (i >= 0) node.hlist.splice(i, 1);
        if (node.hlist.length > 0) s.pagesSharing--;
        else s.pagesShared--;
        if (item.anonVma !== null) putAnonVma(ctx, item.anonVma);
        item.anonVma = null;
        item.head = null;
        item.state = 'none';
      }
      ctx.locks.folioUnlock(kpage);
      yield* putFolio(ctx, kpage);
    }
  } else if (item.state === 'unstable') {
    if (item.seqnr === s.seqnr && s.unstableTree.get(item.oldchecksum) === item) {
      s.unstableTree.delete(item.oldchecksum);
    }
    s.pagesUnshared--;
    item.state = 'none';
  }
}

/** `find_mergeable_vma(mm, addr)` (mm/ksm.c, 6.3): a VM_MERGEABLE VMA with an anon_vma. */
function findMergeableVma(mm: Mm, addr: number): Vma | null {
  if (!mm.alive) return null; // ksm_test_exit
  const vma = mm.vmaLookup(addr);
  if (vma === null || (vma.flags & VM_MERGEABLE) === 0 || vma.anonVma === null) return null;
  return vma;
}

/**
 * `write_protect_page(vma, page, &orig_pte)` (mm/ksm.c, 6.3), with the page locked: find
 * the page's PTE (at the address its index gives, `page_address_in_vma`), and if it is
 * writable or dirty or the page anon-exclusive, clear and flush it (`ptep_clear_flush`),
 * check that nobody but the mappings and ksmd holds the page (`page_mapcount + 1 + swapped
 * == page_count`, no O_DIRECT or GUP in flight), drop PageAnonExclusive
 * (`page_try_share_anon_rmap`, which fails on a maybe-pinned page), carry the dirty bit to
 * the page, and set the PTE back clean and read-only. Returns the PTE as it now is, or -1.
 */
function* writeProtectPage(ctx: RmapState, vma: Vma, folio: Folio): KernelGen<number> {
  const mem = ctx.mem;
  const av = vma.anonVma;
  if (av === null) return -1;
  const address = vmaAddress(vma, folioIndex(mem, folio), 1);
  if (address < 0) return -1;
  const mm = vma.mm;
  const vpn = vpnOf(address);
  const table = mm.pageTables.get(pmdIndexOfVpn(vpn));
  if (table === undefined) return -1;
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  try {
    const pte = table.get(vpn);
    if (!ptePresent(pte) || ptePfn(pte) !== folio) return -1;
    const anonExclusive = pageTestFlag(mem, folio, PG_anon_exclusive);
    if (pteWrite(pte) || pteDirty(pte) || anonExclusive || mm.tlbFlushPending > 0) {
      const swapped = folioTestSwapcache(mem, folio) ? 1 : 0;
      table.set(vpn, 0);
      flushTlbPage(ctx, mm, vpn);
      if (folioMapcount(mem, folio) + 1 + swapped !== folioRefCount(mem, folio)) {
        table.set(vpn, pte);
        return -1;
      }
      if (anonExclusive && pageTryShareAnonRmap(ctx, folio, folio) !== 0) {
        table.set(vpn, pte);
        return -1;
      }
      if (pteDirty(pte)) folioMarkDirty(ctx, folio);
      table.set(vpn, pteWrprotect(pteMkclean(pte)));
      ctx.rt.charge(ctx.costs.pteUpdate * 2);
    }
    return table.get(vpn);
  } finally {
    ptl.unlock();
  }
}

/**
 * `replace_page(vma, page, kpage, orig_pte)` (mm/ksm.c, 6.3): under the PTE lock, if the
 * PTE is still `origPte`, map `kpage` there instead (one more reference and mapping,
 * RMAP_NONE, `mk_pte(kpage, vma->vm_page_prot)`: read-only in a private mapping), after
 * `ptep_clear_flush`, and drop the old page's mapping and reference. Returns 0 or -1.
 */
function* replacePage(
  ctx: RmapState,
  vma: Vma,
  folio: Folio,
  kpage: Folio,
  origPte: number,
): KernelGen<number> {
  const mem = ctx.mem;
  const address = vmaAddress(vma, folioIndex(mem, folio), 1);
  if (address < 0) return -1;
  const mm = vma.mm;
  const vpn = vpnOf(address);
  const table = mm.pageTables.get(pmdIndexOfVpn(vpn));
  if (table === undefined) return -1;
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  if (table.get(vpn) !== origPte) {
    ptl.unlock();
    return -1;
  }
  folioGet(mem, kpage);
  pageAddAnonRmap(ctx, kpage, kpage, vma, address, RMAP_NONE);
  table.set(vpn, 0);
  flushTlbPage(ctx, mm, vpn);
  table.set(vpn, mkPte(kpage, PTE_YOUNG));
  ctx.rt.charge(ctx.costs.pteUpdate * 2);
  pageRemoveRmap(ctx, folio, folio, false);
  ptl.unlock();
  yield* putFolio(ctx, folio);
  return 0;
}

/**
 * `try_to_merge_one_page(vma, page, kpage)` (mm/ksm.c, 6.3): with `page` trylocked,
 * write-protect its PTE; with no `kpage` the page itself becomes a KSM page
 * (`set_page_stable_node(page, NULL)`, dirty), else, if the contents are identical,
 * `replace_page` maps `kpage` instead. A forked KSM page (`page === kpage`) is already
 * merged. Returns 0 or -1 (-EFAULT).
 */
function* tryToMergeOnePage(
  ctx: RmapState,
  vma: Vma,
  folio: Folio,
  kpage: Folio | null,
): KernelGen<number> {
  const mem = ctx.mem;
  if (folio === kpage) return 0;
  if (!folioTestAnon(mem, folio) || folioTestLarge(mem, folio)) return -1;
  if (!ctx.locks.folioTrylock(folio, 'try_to_merge_one_page')) return -1;
  let err = -1;
  try {
    const orig = yield* writeProtectPage(ctx, vma, folio);
    if (orig >= 0) {
      if (kpage === null) {
        folioSetMapping(mem, folio, PAGE_MAPPING_KSM, KSM_NO_STABLE_NODE);
        folioMarkDirty(ctx, folio);
        err = 0;
      } else if (pageContent(mem, folio) === pageContent(mem, kpage)) {
        err = yield* replacePage(ctx, vma, folio, kpage, orig);
      }
    }
  } finally {
    ctx.locks.folioUnlock(folio);
  }
  return err;
}

/**
 * `try_to_merge_with_ksm_page(rmap_item, page, kpage)` (mm/ksm.c, 6.3): under the mm's
 * `mmap_lock` (read), merge `page` (mapped at the item's address) into `kpage`; on success
 * the item leaves whatever tree it was in and takes a reference on its VMA's anon_vma.
 */
function* tryToMergeWithKsmPage(
  ctx: RmapState,
  s: KsmState,
  item: KsmRmapItem,
  folio: Folio,
  kpage: Folio | null,
): KernelGen<number> {
  const mm = item.mm;
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('try_to_merge_with_ksm_page');
  try {
    const vma = findMergeableVma(mm, item.address);
    if (vma === null) return -1;
    const err = yield* tryToMergeOnePage(ctx, vma, folio, kpage);
    if (err !== 0) return err;
    s.pending.push({ mm, address: item.address });
    yield* removeRmapItemFromTree(ctx, s, item);
    const av = vma.anonVma!;
    getAnonVma(av);
    item.anonVma = av;
    return 0;
  } finally {
    sem.upRead();
  }
}

/**
 * `break_ksm(vma, addr)` (mm/ksm.c, 6.3): while `addr` maps a KSM page (`follow_page` with
 * FOLL_MIGRATION, which waits on a migration entry), take an unsharing fault
 * (FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE: `do_wp_page` copies it into a private page,
 * mapped read-only). Returns 0 or -ENOMEM.
 */
function* breakKsm(ctx: RmapState, vma: Vma, addr: number): KernelGen<number> {
  const mem = ctx.mem;
  for (;;) {
    yield; // cond_resched()
    const vpn = vpnOf(addr);
    const table = vma.mm.pageTables.get(pmdIndexOfVpn(vpn));
    if (table === undefined) return 0;
    const pte = table.get(vpn);
    if (isMigrationEntry(pte)) {
      yield* migrationEntryWait(ctx, table, vpn);
      continue;
    }
    if (!ptePresent(pte) || pteProtnone(pte) || ptePfn(pte) === mem.zeroPfn) return 0;
    if (!folioTestKsm(mem, pfnFolio(mem, ptePfn(pte)))) return 0;
    const ret = yield* handleMmFault(ctx, vma, addr, FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE);
    if ((ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_OOM)) !== 0) {
      return (ret & VM_FAULT_OOM) !== 0 ? -ENOMEM : 0;
    }
  }
}

/**
 * `break_cow(rmap_item)` (mm/ksm.c, 6.3): undo a merge whose stable node could not be
 * inserted: put the item's anon_vma reference and break the KSM mapping at its address.
 */
function* breakCow(ctx: RmapState, s: KsmState, item: KsmRmapItem): KernelGen {
  removePending(s, item.mm, item.address);
  if (item.anonVma !== null) putAnonVma(ctx, item.anonVma);
  item.anonVma = null;
  const mm = item.mm;
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('break_cow');
  try {
    const vma = findMergeableVma(mm, item.address);
    if (vma !== null) yield* breakKsm(ctx, vma, item.address);
  } finally {
    sem.upRead();
  }
}

/**
 * `stable_tree_append(rmap_item, stable_node)` (mm/ksm.c, 6.3), with the KSM page locked:
 * the item joins the node's hlist (at the head); the first item counts in pages_shared,
 * the others in pages_sharing.
 */
function stableTreeAppend(s: KsmState, item: KsmRmapItem, node: KsmStableNode): void {
  removePending(s, item.mm, item.address);
  item.head = node;
  item.state = 'stable';
  if (node.hlist.length > 0) s.pagesSharing++;
  else s.pagesShared++;
  node.hlist.unshift(item);
}

/**
 * `stable_tree_search(page)` (mm/ksm.c, 6.3), without chains: a KSM page already in the
 * tree (a forked one) is its own match; otherwise the node holding the same content, if its
 * page is still there (`get_ksm_page`; a stale node is pruned). Returns a referenced kpage.
 */
function stableTreeSearch(ctx: RmapState, s: KsmState, folio: Folio): Folio | null {
  const mem = ctx.mem;
  const own = folioStableNode(mem, folio);
  if (own?.inTree === true) {
    folioGet(mem, folio);
    return folio;
  }
  const node = s.stableTree.get(pageContent(mem, folio));
  if (node === undefined) return null;
  return getKsmPage(ctx, s, node);
}

/**
 * `stable_tree_insert(kpage)` (mm/ksm.c, 6.3): a new stable node for `kpage`, unless the
 * tree already holds a live node with the same content (then null, and the caller breaks
 * both merges); `set_page_stable_node(kpage, node)`.
 */
function stableTreeInsert(ctx: RmapState, s: KsmState, kpage: Folio): KsmStableNode | null {
  const mem = ctx.mem;
  const content = pageContent(mem, kpage);
  const old = s.stableTree.get(content);
  if (old !== undefined) {
    const page = getKsmPage(ctx, s, old);
    if (page !== null) {
      folioPutNoFree(ctx, page);
      return null;
    }
  }
  const node = new KsmStableNode(++s.nodeIds, kpage, content);
  s.stableTree.set(content, node);
  folioSetMapping(mem, kpage, PAGE_MAPPING_KSM, node);
  return node;
}

/** Drops a reference known not to be the last (the caller's own is still held). */
function folioPutNoFree(ctx: RmapState, folio: Folio): void {
  if (!folioPutRefsFast(ctx, folio, 1)) {
    throw new MmsimError('INVARIANT_VIOLATED', `ksm: unexpected last put of folio ${folio}`);
  }
}

/**
 * `unstable_tree_search_insert(rmap_item, page, &tree_page)` (mm/ksm.c, 6.3): an item of
 * this scan's unstable tree whose page (`get_mergeable_page`: still an anonymous page
 * mapped at its address) has the same content as `page` and is another page; returns it
 * with a reference on that page, or inserts `item` (pages_unshared) and returns null. An
 * entry whose page changed since it was inserted is replaced (the kernel's rb-tree would
 * keep it at a stale position; "unstable" is the point of the tree).
 */
function* unstableTreeSearchInsert(
  ctx: RmapState,
  s: KsmState,
  item: KsmRmapItem,
  folio: Folio,
): KernelGen<{ item: KsmRmapItem; page: Folio } | null> {
  const mem = ctx.mem;
  const content = pageContent(mem, folio);
  const tree = s.unstableTree.get(content);
  if (tree !== undefined && tree !== item) {
    const page = yield* getMergeablePage(ctx, tree);
    if (page !== null) {
      if (page !== folio && pageContent(mem, page) === content) return { item: tree, page };
      yield* putFolio(ctx, page);
      if (page === folio) return null;
    }
  }
  item.state = 'unstable';
  item.seqnr = s.seqnr;
  item.oldchecksum = content;
  s.unstableTree.set(content, item);
  s.pagesUnshared++;
  return null;
}

/**
 * `get_mergeable_page(rmap_item)` (mm/ksm.c, 6.3): under `mmap_lock` (read), the
 * anonymous page mapped at the item's address in a mergeable VMA, referenced, or null.
 */
function* getMergeablePage(ctx: RmapState, item: KsmRmapItem): KernelGen<Folio | null> {
  const mm = item.mm;
  const sem = mm.mmapLock;
  if (!sem.downReadTrylock()) yield* sem.downRead('get_mergeable_page');
  try {
    const vma = findMergeableVma(mm, item.address);
    if (vma === null) return null;
    const folio = yield* followAnonPage(ctx, mm, item.address);
    return folio;
  } finally {
    sem.upRead();
  }
}

/**
 * `follow_page(vma, addr, FOLL_GET)` for KSM (mm/gup.c, 6.3): under the PTE lock, the
 * small anonymous folio a present, accessible PTE maps, with a reference; null for a hole,
 * a migration entry, PROT_NONE, the zero page, a page-cache page or a large folio.
 */
function* followAnonPage(ctx: RmapState, mm: Mm, addr: number): KernelGen<Folio | null> {
  const mem = ctx.mem;
  const vpn = vpnOf(addr);
  const idx = pmdIndexOfVpn(vpn);
  if (mm.pmds.has(idx)) return null;
  const table = mm.pageTables.get(idx);
  if (table === undefined) return null;
  const ptl = table.ptl;
  if (!ptl.trylock()) yield* ptl.lockContended();
  const pte = table.get(vpn);
  let folio: Folio | null = null;
  if (ptePresent(pte) && !pteProtnone(pte) && ptePfn(pte) !== mem.zeroPfn) {
    const f = pfnFolio(mem, ptePfn(pte));
    if (folioTestAnon(mem, f) && !folioTestLarge(mem, f)) {
      folioGet(mem, f);
      folio = f;
    }
  }
  ptl.unlock();
  return folio;
}

/**
 * `try_to_merge_two_pages(rmap_item, page, tree_rmap_item, tree_page)` (mm/ksm.c, 6.3):
 * `page` becomes a KSM page in place, then `tree_page` is replaced by it; if the second
 * step fails, the first is undone (`break_cow`). Returns the KSM page or null.
 */
function* tryToMergeTwoPages(
  ctx: RmapState,
  s: KsmState,
  item: KsmRmapItem,
  folio: Folio,
  treeItem: KsmRmapItem,
  treePage: Folio,
): KernelGen<Folio | null> {
  let err = yield* tryToMergeWithKsmPage(ctx, s, item, folio, null);
  if (err === 0) {
    err = yield* tryToMergeWithKsmPage(ctx, s, treeItem, treePage, folio);
    if (err !== 0) yield* breakCow(ctx, s, item);
  }
  return err === 0 ? folio : null;
}

/**
 * `cmp_and_merge_page(page, rmap_item)` (mm/ksm.c, 6.3), for a referenced small anonymous
 * page mapped at the item's address:
 *
 * - an item already on the page's stable node is done;
 * - a match in the stable tree (`stable_tree_search`) is merged into
 *   (`try_to_merge_with_ksm_page`) and the item appended to its node;
 * - otherwise a page whose checksum changed since the last scan is left alone (it is
 *   volatile); a stable one is searched in the unstable tree, and a match there becomes a
 *   new KSM page (`try_to_merge_two_pages`, `stable_tree_insert`, both items appended),
 *   or, if the stable tree already got such a page meanwhile, both merges are broken.
 */
function* cmpAndMergePage(ctx: RmapState, s: KsmState, folio: Folio, item: KsmRmapItem): KernelGen {
  const mem = ctx.mem;
  const own = folioStableNode(mem, folio);
  if (own !== null && item.head === own && item.state === 'stable') return;
  let kpage = stableTreeSearch(ctx, s, folio);
  if (kpage === folio && item.head === own && own !== null && item.state === 'stable') {
    yield* putFolio(ctx, kpage);
    return;
  }
  yield* removeRmapItemFromTree(ctx, s, item);
  if (kpage !== null) {
    const err = yield* tryToMergeWithKsmPage(ctx, s, item, folio, kpage);
    if (err === 0) {
      yield* folioLock(ctx, kpage, 'cmp_and_merge_page');
      const node = folioStableNode(mem, kpage);
      if (node !== null) stableTreeAppend(s, item, node);
      else removePending(s, item.mm, item.address);
      ctx.locks.folioUnlock(kpage);
    }
    yield* putFolio(ctx, kpage);
    return;
  }
  const checksum = pageContent(mem, folio);
  if (!(item.oldchecksum === checksum)) {
    item.oldchecksum = checksum;
    return;
  }
  const found = yield* unstableTreeSearchInsert(ctx, s, item, folio);
  if (found === null) return;
  kpage = yield* tryToMergeTwoPages(ctx, s, item, folio, found.item, found.page);
  yield* putFolio(ctx, found.page);
  if (kpage === null) return;
  yield* folioLock(ctx, kpage, 'cmp_and_merge_page');
  const node = stableTreeInsert(ctx, s, kpage);
  if (node !== null) {
    stableTreeAppend(s, found.item, node);
    stableTreeAppend(s, item, node);
  }
  ctx.locks.folioUnlock(kpage);
  if (node === null) {
    yield* breakCow(ctx, s, found.item);
    yield* breakCow(ctx, s, item);
  }
}

/**
 * `get_next_rmap_item(mm_slot, rmap_list, addr)` (mm/ksm.c, 6.3): the slot's item for
 * `addr`, created if needed; items below it that were not met again (their page is gone)
 * are removed from their tree and freed.
 */
function* getNextRmapItem(
  ctx: RmapState,
  s: KsmState,
  slot: KsmMmSlot,
  addr: number,
): KernelGen<KsmRmapItem> {
  const items = slot.items;
  while (s.listPos < items.length && items[s.listPos]!.address < addr) {
    const gone = items[s.listPos]!;
    items.splice(s.listPos, 1);
    yield* removeRmapItemFromTree(ctx, s, gone);
  }
  const at = items[s.listPos];
  if (at !== undefined && at.address === addr) return at;
  const item = new KsmRmapItem(slot.mm, addr);
  items.splice(s.listPos, 0, item);
  return item;
}

/** `remove_trailing_rmap_items(rmap_list)` (mm/ksm.c, 6.3). */
function* removeTrailingRmapItems(ctx: RmapState, s: KsmState, slot: KsmMmSlot): KernelGen {
  while (slot.items.length > s.listPos) {
    const gone = slot.items.pop()!;
    yield* removeRmapItemFromTree(ctx, s, gone);
  }
}

function nextSlot(s: KsmState, slot: KsmMmSlot | null): KsmMmSlot | null {
  if (slot === null) return s.slots[0] ?? null;
  return s.slots[s.slots.indexOf(slot) + 1] ?? null;
}

/**
 * `scan_get_next_rmap_item(&page)` (mm/ksm.c, 6.3): the next scanned page with its
 * rmap_item. At the start of a full scan: `lru_add_drain_all()` (`drainAll`: pages in the
 * per-CPU LRU batches hold a reference that would fail `write_protect_page`'s count) and
 * an empty unstable tree. Per mm, under `mmap_lock` (read), the present small anonymous
 * pages of its VM_MERGEABLE VMAs with an anon_vma, in address order; once an mm is done,
 * its remaining items are removed, and an mm that has exited or has nothing mergeable
 * leaves the list. After the last mm, `seqnr` (full_scans) goes up and null is returned.
 */
function* scanGetNextRmapItem(
  ctx: RmapState,
  s: KsmState,
  drainAll: (() => KernelGen) | undefined,
): KernelGen<{ item: KsmRmapItem; page: Folio } | null> {
  if (s.slots.length === 0) return null;
  if (s.cursor === null) {
    if (drainAll !== undefined) yield* drainAll();
    s.unstableTree.clear();
    s.cursor = nextSlot(s, null);
    if (s.cursor === null) return null;
    s.address = 0;
    s.listPos = 0;
  }
  for (;;) {
    const slot = s.cursor!;
    const mm = slot.mm;
    const sem = mm.mmapLock;
    if (!sem.downReadTrylock()) yield* sem.downRead('scan_get_next_rmap_item');
    let exited = !mm.alive;
    if (!exited) {
      for (const vma of [...mm.vmas]) {
        if (vma.end <= s.address || (vma.flags & VM_MERGEABLE) === 0) continue;
        if (s.address < vma.start) s.address = vma.start;
        if (vma.anonVma === null) s.address = vma.end;
        while (s.address < vma.end) {
          if (!mm.alive) break;
          const page = yield* followAnonPage(ctx, mm, s.address);
          if (page !== null) {
            const item = yield* getNextRmapItem(ctx, s, slot, s.address);
            s.listPos++;
            s.address += PAGE_SIZE;
            sem.upRead();
            return { item, page };
          }
          s.address += PAGE_SIZE;
        }
      }
      exited = !mm.alive;
    }
    if (exited) {
      s.address = 0;
      s.listPos = 0;
    }
    yield* removeTrailingRmapItems(ctx, s, slot);
    const next = nextSlot(s, slot);
    if (s.address === 0) {
      s.slots.splice(s.slots.indexOf(slot), 1);
      s.slotOf.delete(mm);
    }
    sem.upRead();
    s.cursor = next;
    if (next === null) {
      s.seqnr++;
      return null;
    }
    s.address = 0;
    s.listPos = 0;
  }
}

/**
 * `ksm_do_scan(scan_npages)` (mm/ksm.c, 6.3): up to `pages` scanned pages, each through
 * `cmp_and_merge_page`, then ksmd's reference on it put, with `cond_resched()` between.
 * Stops early at the end of a full scan. Returns the number of pages scanned.
 */
export function* ksmDoScan(
  ctx: RmapState,
  pages: number,
  drainAll?: () => KernelGen,
): KernelGen<number> {
  if (!Number.isInteger(pages) || pages < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `ksm_do_scan: pages must be a non-negative integer, got ${String(pages)}`,
    );
  }
  const s = ksmState(ctx);
  let scanned = 0;
  while (scanned < pages) {
    yield; // cond_resched()
    const next = yield* scanGetNextRmapItem(ctx, s, drainAll);
    if (next === null) break;
    scanned++;
    yield* cmpAndMergePage(ctx, s, next.page, next.item);
    yield* putFolio(ctx, next.page);
  }
  return scanned;
}

/**
 * `__ksm_enter(mm)` (mm/ksm.c, 6.3): the mm gets a slot on ksmd's list, just before the
 * scan cursor (so that it is scanned at the end of the current pass).
 */
function ksmEnter(s: KsmState, mm: Mm): void {
  const slot = new KsmMmSlot(mm);
  const at = s.cursor === null ? s.slots.length : s.slots.indexOf(s.cursor);
  s.slots.splice(at, 0, slot);
  s.slotOf.set(mm, slot);
}

/** `unmerge_ksm_pages(vma, start, end)` (mm/ksm.c, 6.3): `break_ksm` at every page. */
function* unmergeKsmPages(ctx: RmapState, vma: Vma, start: number, end: number): KernelGen<number> {
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    if (!vma.mm.alive) break;
    const err = yield* breakKsm(ctx, vma, addr);
    if (err !== 0) return err;
  }
  return 0;
}

/**
 * `ksm_madvise(vma, start, end, advice, &vm_flags)` (mm/ksm.c, 6.3) over a range, as
 * `do_madvise` runs it for these two advices (mm/madvise.c, 6.3: `mmap_lock` for write,
 * `madvise_update_vma` splitting the VMAs at the range's ends):
 *
 * - MADV_MERGEABLE: VMAs that are shared (VM_SHARED / VM_MAYSHARE), VM_IO or already
 *   mergeable are left alone; the others become VM_MERGEABLE, and the mm is registered
 *   with ksmd on first use (`__ksm_enter`, MMF_VM_MERGEABLE).
 * - MADV_UNMERGEABLE: a mergeable VMA with an anon_vma first has every KSM mapping in the
 *   range broken (`unmerge_ksm_pages` -> `break_ksm`: an unsharing fault copies the page),
 *   then loses VM_MERGEABLE.
 *
 * Returns 0, -EINVAL (unaligned start, a bad length, another advice), -ENOMEM (part of the
 * range is not mapped: the mapped part is still advised, as `madvise_walk_vmas` does) or
 * the error of an unmerge. Takes `mmap_lock` itself: the caller must not hold it.
 */
export function* ksmMadvise(
  ctx: RmapState,
  mm: Mm,
  addr: number,
  length: number,
  advice: number,
): KernelGen<number> {
  if (advice !== MADV_MERGEABLE && advice !== MADV_UNMERGEABLE) return -EINVAL;
  if (!Number.isInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isInteger(length) || length < 0) return -EINVAL;
  const end = Math.ceil((addr + length) / PAGE_SIZE) * PAGE_SIZE;
  if (end > TASK_SIZE || end < addr) return -EINVAL;
  if (end === addr) return 0;
  if (!mm.alive) return -ENOMEM;
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('madvise');
  try {
    let unmapped = false;
    let covered = addr;
    for (const vma of [...mm.vmas]) {
      if (vma.end <= covered) continue;
      if (vma.start >= end) break;
      if (vma.start > covered) unmapped = true;
      covered = vma.end;
      const err = yield* ksmMadviseVma(
        ctx,
        vma,
        Math.max(addr, vma.start),
        Math.min(end, vma.end),
        advice,
      );
      if (err !== 0) return err;
    }
    if (covered < end) unmapped = true;
    return unmapped ? -ENOMEM : 0;
  } finally {
    sem.upWrite();
  }
}

/** `ksm_madvise` on one VMA's part `[start, end)`, then `madvise_update_vma`. */
function* ksmMadviseVma(
  ctx: RmapState,
  vma: Vma,
  start: number,
  end: number,
  advice: number,
): KernelGen<number> {
  const old = vma.flags;
  let flags = old;
  if (advice === MADV_MERGEABLE) {
    if ((old & (VM_MERGEABLE | KSM_REFUSED_FLAGS)) !== 0) return 0;
    const s = ksmState(ctx);
    if (!s.slotOf.has(vma.mm)) ksmEnter(s, vma.mm);
    flags = (old | VM_MERGEABLE) >>> 0;
  } else {
    if ((old & VM_MERGEABLE) === 0) return 0;
    if (vma.anonVma !== null) {
      const err = yield* unmergeKsmPages(ctx, vma, start, end);
      if (err !== 0) return err;
    }
    flags = (old & ~VM_MERGEABLE) >>> 0;
  }
  let target = vma;
  if (target.start < start) target = yield* splitVma(ctx, target, start);
  if (target.end > end) yield* splitVma(ctx, target, end);
  target.flags = flags;
  return 0;
}

/**
 * `rmap_walk_ksm(folio, rwc)` (mm/ksm.c, 6.3): the folio must be locked (its lock keeps the
 * stable node's hlist still). For each rmap_item of the folio's stable node, lock its
 * anon_vma for read (trylock first; with `tryLock`, report contention) and visit the VMAs
 * of that anon_vma covering the item's address: first those of the item's own mm, then, in
 * a second pass, those of other mms (children forked since ksmd merged the page), with
 * `rmap_one(folio, vma, item address)`. `cond_resched()` between items and VMAs.
 */
export function* rmapWalkKsm(ctx: RmapState, folio: Folio, rwc: RmapWalkControl): KernelGen {
  const mem = ctx.mem;
  if (!folioTestFlag(mem, folio, PG_locked)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `rmap_walk_ksm: folio ${folio} must be locked (VM_BUG_ON_FOLIO(!folio_test_locked))`,
    );
  }
  const node = folioStableNode(mem, folio);
  if (node === null) return;
  const items = node.hlist.slice();
  for (let pass = 0; pass < 2; pass++) {
    const newForks = pass === 1;
    for (const item of items) {
      yield; // cond_resched()
      const av = item.anonVma;
      if (av === null) continue;
      const sem = av.rwsem;
      if (!sem.downReadTrylock()) {
        if (rwc.tryLock === true) {
          rwc.contended = true;
          return;
        }
        yield* anonVmaLockRead(av, 'rmap_walk_ksm');
      }
      try {
        for (const avc of [...av.rbRoot]) {
          const vma = avc.vma;
          const addr = item.address;
          if (addr < vma.start || addr >= vma.end) continue;
          if ((item.mm === vma.mm) === newForks) continue;
          ctx.rt.charge(ctx.costs.rmapStep);
          if (rwc.invalidVma?.(vma as VmaView) === true) continue;
          const r = rwc.rmapOne(folio, vma, addr);
          const keepGoing = typeof r === 'boolean' ? r : yield* r;
          if (!keepGoing) return;
          if (rwc.done?.(folio) === true) return;
        }
      } finally {
        sem.upRead();
      }
    }
  }
}

/**
 * `folio_migrate_ksm(newfolio, folio)` (mm/ksm.c, 6.3), from `folio_migrate_flags`, with
 * both folios locked and `newfolio->mapping` already copied from `folio`: the stable node
 * moves to the new folio (`kpfn`), and the old folio keeps a KSM mapping with no node
 * (`set_page_stable_node(folio, NULL)`), so that `get_ksm_page` sees it as stale. A node
 * whose `kpfn` is not the old folio is the kernel's VM_BUG_ON.
 */
export function folioMigrateKsm(mem: PhysicalMemory, dst: Folio, src: Folio): void {
  if (!folioTestKsm(mem, src)) return;
  const node = folioStableNode(mem, src);
  if (node === null) return;
  if (folioRawMapping(mem, dst) !== node) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `kernel BUG in folio_migrate_ksm: newfolio ${dst} does not have the mapping of folio ${src}`,
    );
  }
  if (node.kpfn !== src) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `kernel BUG in folio_migrate_ksm: ${node} has kpfn ${node.kpfn}, not folio ${src}`,
    );
  }
  node.kpfn = dst;
  folioSetMapping(mem, src, PAGE_MAPPING_KSM, KSM_NO_STABLE_NODE);
}

/** The /sys/kernel/mm/ksm counters. */
export function ksmStats(ctx: RmapState): KsmStats {
  const s = ctx.ksm;
  if (s === null) {
    return { pagesShared: 0, pagesSharing: 0, pagesUnshared: 0, fullScans: 0, stableNodes: 0 };
  }
  return {
    pagesShared: s.pagesShared,
    pagesSharing: s.pagesSharing,
    pagesUnshared: s.pagesUnshared,
    fullScans: s.seqnr,
    stableNodes: s.stableTree.size,
  };
}

/**
 * The rmap check of one mapping of a KSM folio (for `checkRmap`). Usually `rmap_walk_ksm`
 * finds it: the folio's stable node has an rmap_item at this address whose anon_vma the
 * VMA is chained to (the item's own mm, or a child forked after the merge), or ksmd is
 * between installing it and `stable_tree_append`. The page index is not checked: a KSM
 * page is mapped at unrelated addresses of unrelated mms.
 *
 * 6.3 also leaves a KSM mapping without an rmap_item for a while: `scan_get_next_rmap_item`
 * skips an address whose `follow_page(FOLL_GET)` finds no page (a migration entry, no
 * FOLL_MIGRATION) and `get_next_rmap_item` then frees the items below the next page it
 * finds, the skipped one included (`remove_rmap_item_from_tree`). The mapping stays, out
 * of reach of `rmap_walk_ksm` (a migration of that page fails, it stays mapped), until the
 * next scan meets the address: `cmp_and_merge_page` finds the page's own node
 * (`stable_tree_search` returns the page itself) and appends a new item. So a mapping with
 * no stable item is accepted; one whose mm's rmap_item sits on another stable node is not.
 * Returns a problem or null.
 */
export function checkKsmMapping(
  ctx: RmapState,
  vma: Vma,
  folio: Folio,
  addr: number,
): string | null {
  const s = ctx.ksm;
  const pending = s?.pending.some((p) => p.mm === vma.mm && p.address === addr) === true;
  const node = folioStableNode(ctx.mem, folio);
  if (node === null) {
    if (pending) return null;
    return `KSM folio 0x${folio.toString(16)} has no stable node, so rmap_walk_ksm cannot find this mapping`;
  }
  for (const item of node.hlist) {
    if (item.address !== addr || item.anonVma === null) continue;
    if (vma.anonVmaChain.some((avc) => avc.anonVma === item.anonVma)) return null;
  }
  if (pending) return null;
  const own = s?.slotOf.get(vma.mm)?.items.find((i) => i.address === addr);
  if (own !== undefined && own.state === 'stable' && own.head !== node) {
    return `KSM folio 0x${folio.toString(16)} of ${node} is mapped where the rmap_item says ${String(own.head)}, so rmap_walk_ksm cannot find it`;
  }
  return null;
}

/**
 * KSM's own consistency (for `checkRmap`), in both directions between stable nodes and
 * KSM folios: a mapped KSM folio's node must name it (`kpfn`), and a node whose rmap_items
 * still map one of its folios must name that folio, not a stale pfn. Nodes whose page is
 * gone are legal (`get_ksm_page` prunes them lazily). Also the counters against the trees.
 */
export function checkKsm(ctx: RmapState, add: (problem: string) => void): void {
  const s = ctx.ksm;
  if (s === null) return;
  const mem = ctx.mem;
  let shared = 0;
  let sharing = 0;
  const nodes = new Set<KsmStableNode>();
  for (const node of s.stableTree.values()) nodes.add(node);
  for (const slot of s.slots) {
    for (const item of slot.items) if (item.head !== null) nodes.add(item.head);
  }
  for (const slot of s.slots) {
    for (const item of slot.items) {
      if (item.state === 'stable' && (item.head === null || !item.head.hlist.includes(item))) {
        add(
          `rmap_item ${item.mm} 0x${item.address.toString(16)} is stable on ${String(item.head)} but not on its hlist, so rmap_walk_ksm cannot find it`,
        );
      }
    }
  }
  for (const node of nodes) {
    if (node.inTree && node.hlist.length > 0) {
      shared++;
      sharing += node.hlist.length - 1;
    }
    for (const item of node.hlist) {
      if (item.head !== node || item.state !== 'stable') {
        add(
          `${node}: rmap_item ${item.mm} 0x${item.address.toString(16)} on its hlist is not its stable item`,
        );
      }
      const vpn = vpnOf(item.address);
      const pte = item.mm.pageTables.get(pmdIndexOfVpn(vpn))?.get(vpn) ?? 0;
      if (pte === 0 || (!ptePresent(pte) && !isMigrationEntry(pte))) continue;
      const pfn = ptePfn(pte);
      if (!pfnValid(mem, pfn) || pfn === mem.zeroPfn) continue;
      const folio = pfnFolio(mem, pfn);
      if (folio < 0 || folioStableNode(mem, folio) !== node) continue;
      if (ptePresent(pte) && node.kpfn !== folio) {
        add(
          `${node} has kpfn 0x${node.kpfn.toString(16)}, but its rmap_item ${item.mm} 0x${item.address.toString(16)} maps its KSM folio at 0x${folio.toString(16)} (a stale kpfn)`,
        );
      }
    }
  }
  if (shared !== s.pagesShared || sharing !== s.pagesSharing) {
    add(
      `ksm: pages_shared ${s.pagesShared} / pages_sharing ${s.pagesSharing}, but the stable nodes say ${shared} / ${sharing}`,
    );
  }
}

/**
 * The folio side of `checkKsm`, for a KSM folio that page tables map: its stable node's
 * `kpfn` must be this folio. Returns a problem or null.
 */
export function checkKsmFolio(mem: PhysicalMemory, folio: Folio): string | null {
  const node = folioStableNode(mem, folio);
  if (node === null || node.kpfn === folio) return null;
  return `mapped KSM folio 0x${folio.toString(16)}: its ${node} has kpfn 0x${node.kpfn.toString(16)} (a stale pfn)`;
}

/**
 * The one-page range `page_vma_mapped_walk` scans for a KSM page at `address` (the
 * rmap_item's address that `rmap_walk_ksm` passes to `rmap_one`), or null for -EFAULT.
 */
export function ksmPageRange(address: number): VmaPageRange | null {
  if (address < 0) return null;
  const startVpn = vpnOf(address);
  return { startVpn, endVpn: startVpn + 1 };
}
